-- wrk script: POST /api/v1/auth/signin for the bench user (bench/run.sh
-- signs it up beforehand).  Each sign-in verifies an argon2id hash on a
-- helper thread of the worker.
wrk.method = "POST"
wrk.body = '{"email":"bench@example.com","password":"bench-password-1"}'
wrk.headers["Content-Type"] = "application/json"
