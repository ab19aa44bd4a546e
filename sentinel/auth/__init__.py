"""The Ray-free security core of the API gateway: passwords, tokens, API keys, RBAC, rate limits, audit.

Import from the submodules (`sentinel.auth.rbac`, `sentinel.auth.tokens`, ...): each does one job, and the
gateway needs only the ones it uses (`ratelimit` pulls in redis and `limits`, `audit` pulls in psycopg).
"""
