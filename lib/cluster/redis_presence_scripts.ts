// The Lua scripts of Redis presence (lib/cluster/redis_presence.ts). Each touches the keys of one
// user or of one node (one hash slot on a Redis Cluster), and every key it touches is in KEYS.

// KEYS: user key. ARGV: this node's id. Takes a free user (1); otherwise returns the holder.
export const TAKE_IF_FREE = `
local holder = redis.call('GET', KEYS[1])
if holder then return holder end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

// KEYS: user key. ARGV: the (dead) holder seen, this node's id. Takes the user if that holder
// still has them (1), else 0: someone else moved first.
export const TAKE_OVER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

// KEYS: user key. ARGV: this node's id. Deletes the key if it names this node.
export const DROP_IF_MINE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// KEYS: this node's alive key. ARGV: liveness TTL (ms). Refreshes it; 0 when it had vanished.
export const BEAT = `
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'XX') then return 1 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 0`;

// KEYS: this node's users set, alive key. ARGV: liveness TTL (ms) or 0. Empties the set, then
// marks the node alive (TTL > 0) or gone (0).
export const FORGET_NODE = `
redis.call('DEL', KEYS[1])
if ARGV[1] == '0' then redis.call('DEL', KEYS[2])
else redis.call('SET', KEYS[2], '1', 'PX', ARGV[1]) end
return 0`;
