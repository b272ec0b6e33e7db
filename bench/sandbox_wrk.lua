-- wrk script: POST /v1/billing/{billingKey} with a fresh orderId per request.
-- Usage: wrk -s bench/sandbox_wrk.lua URL -- <billingKeyPathEncoded> <customerKey> <authHeader> <run>
local counter = 0
local threads = {}
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function init(args)
  path = "/v1/billing/" .. args[1]
  customer = args[2]
  auth = args[3]
  run = args[4]
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"customerKey":"%s","amount":4900,"orderId":"w%s-%d-%d","orderName":"bench"}',
    customer, run, tid, counter)
  return wrk.format("POST", path,
    {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
