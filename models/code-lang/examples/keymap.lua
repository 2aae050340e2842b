-- Key bindings for a small text editor, with a helper to look them up.
local M = {}

local bindings = {
  ["ctrl+s"] = "save",
  ["ctrl+q"] = "quit",
  ["ctrl+f"] = "find",
  ["ctrl+z"] = "undo",
  ["ctrl+shift+z"] = "redo",
}

function M.lookup(key)
  local action = bindings[string.lower(key)]
  if action == nil then
    return nil, "no binding for " .. key
  end
  return action
end

function M.bind(key, action)
  assert(type(action) == "string", "action must be a string")
  bindings[string.lower(key)] = action
end

function M.list()
  local keys = {}
  for k in pairs(bindings) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

return M
