-- wrk script: one operation = a multipart upload of a WAV and POST /v1/transcribe of the uploaded file.
--
--   wrk -c 8 -d 10s --latency -s benchmarks/upload_transcribe.lua http://127.0.0.1:8000 -- AUDIO.wav API_KEY
--
-- Each 201 of an upload queues its file id; a connection's next request transcribes a queued file id when there
-- is one, else uploads. done() prints "pairs: N" (202s of transcribe) and "failed: N" (any other answer); wrk's
-- latencies are per request (uploads and transcribes together).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local audio = file:read("*a")
  file:close()
  api_key = args[2]
  local boundary = "voxbench" .. tostring(math.random(100000000, 999999999))
  local body = "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="file"; filename="bench.wav"\r\n'
    .. "Content-Type: audio/wav\r\n\r\n" .. audio .. "\r\n--" .. boundary .. "--\r\n"
  upload_request = wrk.format("POST", "/v1/upload", {
    ["Authorization"] = "Bearer " .. api_key,
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
  }, body)
  file_ids = {}
  pairs_done = 0
  failed = 0
end

function request()
  local file_id = table.remove(file_ids)
  if file_id == nil then
    return upload_request
  end
  return wrk.format("POST", "/v1/transcribe", {
    ["Authorization"] = "Bearer " .. api_key,
    ["Content-Type"] = "application/json",
  }, '{"file_id": "' .. file_id .. '"}')
end

function response(status, headers, body)
  if status == 201 then
    local file_id = body:match('"file_id":%s*"([%w_]+)"')
    if file_id then
      table.insert(file_ids, file_id)
    else
      failed = failed + 1
    end
  elseif status == 202 then
    pairs_done = pairs_done + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local total, failures = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("pairs_done")
    failures = failures + thread:get("failed")
  end
  io.write(string.format("pairs: %d\nfailed: %d\n", total, failures))
end
