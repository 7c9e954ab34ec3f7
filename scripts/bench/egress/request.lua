-- request.lua - wrk script for the egress benchmark: one fixed GET, absolute-form for proxies.
-- EG_TARGET: the request target ("http://bench.test:PORT/1k" through a proxy, "/1k" straight to nginx)
-- EG_HOST: the Host header; EG_CLOSE=1 adds "Connection: close" (a new connection per request).
local headers = { ["Host"] = os.getenv("EG_HOST") }
if os.getenv("EG_CLOSE") == "1" then headers["Connection"] = "close" end
local req = wrk.format("GET", os.getenv("EG_TARGET"), headers)
request = function() return req end
