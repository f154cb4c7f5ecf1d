-- wrk script: POST /api/v1/tables/bench_posts, one row per request, as
-- the service key bench/run.sh sets up (sent with wrk -H), with
-- Prefer: return=minimal as a write-heavy client would send it.
wrk.method = "POST"
wrk.body = '{"name":"bench","val":7}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "return=minimal"
