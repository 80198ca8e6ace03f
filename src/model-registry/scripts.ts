/**
 * Lua for the model registry, kept apart from the class that calls it (as BullMQ keeps its scripts).
 *
 * publish: KEYS[1] version counter, KEYS[2] version list, KEYS[3] latest pointer; ARGV[1] key prefix
 * for versions ("<prefix>:v:"), ARGV[2] artifact bytes, ARGV[3] metadata JSON (without version),
 * ARGV[4] versions to keep, ARGV[5] channel, ARGV[6] model id. One script, so a reader sees either
 * the old latest version or the new one whole: the artifact and metadata are written before the
 * pointer moves, and trimmed versions disappear in the same step.
 */
export const PUBLISH = `
local version = redis.call('INCR', KEYS[1])
local base = ARGV[1] .. version
redis.call('SET', base .. ':artifact', ARGV[2])
local meta = cjson.decode(ARGV[3])
meta['version'] = version
local metaJson = cjson.encode(meta)
redis.call('SET', base .. ':meta', metaJson)
redis.call('RPUSH', KEYS[2], version)
local keep = tonumber(ARGV[4])
while redis.call('LLEN', KEYS[2]) > keep do
  local old = redis.call('LPOP', KEYS[2])
  redis.call('DEL', ARGV[1] .. old .. ':artifact', ARGV[1] .. old .. ':meta')
end
redis.call('SET', KEYS[3], version)
redis.call('PUBLISH', ARGV[5], cjson.encode({ modelId = ARGV[6], version = version }))
return version
`;
