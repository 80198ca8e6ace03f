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

/**
 * remove: KEYS[1] version list, KEYS[2] latest pointer; ARGV[1] key prefix for versions
 * ("<prefix>:v:"), ARGV[2] the version to delete, or '' for every version. One script, so the list,
 * the pointer and the versions' keys agree at every moment: the pointer moves to the newest version
 * left, or goes with the last one. The counter stays, so a number is never given to two versions
 * (a worker that cached version n never mistakes a new version for an older one). Returns the
 * versions deleted.
 */
export const REMOVE = `
local function drop(v)
  redis.call('DEL', ARGV[1] .. v .. ':artifact', ARGV[1] .. v .. ':meta')
end
local removed = {}
if ARGV[2] == '' then
  removed = redis.call('LRANGE', KEYS[1], 0, -1)
  for _, v in ipairs(removed) do drop(v) end
  redis.call('DEL', KEYS[1], KEYS[2])
  return removed
end
if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 then return removed end
drop(ARGV[2])
local newest = redis.call('LINDEX', KEYS[1], -1)
if newest then redis.call('SET', KEYS[2], newest) else redis.call('DEL', KEYS[2]) end
return { ARGV[2] }
`;
