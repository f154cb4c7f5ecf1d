-- wrk script: POST /api/v1/settings/batch with one existing and one
-- missing key (bench/run.sh inserts bench.key beforehand).
wrk.method = "POST"
wrk.body = '{"keys":["bench.key","missing.key"]}'
wrk.headers["Content-Type"] = "application/json"
