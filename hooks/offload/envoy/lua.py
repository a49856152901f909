"""The optional model rename on the remote leg: a Lua filter, its name escaped."""

from __future__ import annotations

import json

from .layout import JSON, TYPE


def model_rewrite_filter(model: str) -> JSON:
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": TYPE + "envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {
                "inline_string": _MODEL_REWRITE_LUA.replace(
                    "__MODEL__", _lua_string(json.dumps(model))
                )
            },
        },
    }


def _lua_string(value: str) -> str:
    """A Lua string literal of value: every byte that is not a letter or digit as a
    decimal escape, so that no tenant-written name can end the literal."""
    return (
        '"'
        + "".join(chr(b) if b < 128 and chr(b).isalnum() else f"\\{b:03d}" for b in value.encode())
        + '"'
    )


# Buffers a JSON request body and replaces the value of its top-level "model" key
# (found by a scan that skips strings and counts nesting, so a "model" inside a
# message or a nested object is left alone). Other bodies pass untouched.


# Buffers a JSON request body and replaces the value of its top-level "model" key
# (found by a scan that skips strings and counts nesting, so a "model" inside a
# message or a nested object is left alone). Other bodies pass untouched.
_MODEL_REWRITE_LUA = r"""
local MODEL = __MODEL__

local function skip_string(text, i, n)
  local j = i + 1
  while j <= n do
    local c = text:byte(j)
    if c == 92 then
      j = j + 2
    elseif c == 34 then
      return j
    else
      j = j + 1
    end
  end
  return nil
end

local function skip_space(text, k, n)
  while k <= n do
    local c = text:byte(k)
    if c ~= 32 and c ~= 9 and c ~= 10 and c ~= 13 then
      return k
    end
    k = k + 1
  end
  return k
end

local function model_value(text)
  local i, n, depth = 1, #text, 0
  while i <= n do
    local c = text:byte(i)
    if c == 34 then
      local j = skip_string(text, i, n)
      if j == nil then
        return nil
      end
      local k = skip_space(text, j + 1, n)
      if depth == 1 and k <= n and text:byte(k) == 58 and text:sub(i, j) == '"model"' then
        local v = skip_space(text, k + 1, n)
        if v > n or text:byte(v) ~= 34 then
          return nil
        end
        local w = skip_string(text, v, n)
        if w == nil then
          return nil
        end
        return v, w
      end
      i = j + 1
    else
      if c == 123 or c == 91 then
        depth = depth + 1
      elseif c == 125 or c == 93 then
        depth = depth - 1
      end
      i = i + 1
    end
  end
  return nil
end

function envoy_on_request(handle)
  local kind = handle:headers():get("content-type") or ""
  if not string.find(kind, "json", 1, true) then
    return
  end
  local body = handle:body()
  if body == nil then
    return
  end
  local text = body:getBytes(0, body:length())
  local first, last = model_value(text)
  if first == nil then
    return
  end
  body:setBytes(text:sub(1, first - 1) .. MODEL .. text:sub(last + 1))
end
"""
