-- Argo CD health check for meshwright.dev/MeshInstallation (argocd-cm:
-- resource.customizations.health.meshwright.dev_MeshInstallation). Written for Argo's sandbox
-- without open libraries: base, table and a safe os only (no string library).
--   Healthy      Ready=True for the current generation
--   Degraded     Stalled=True for the current generation, or the desired version's upgrade
--                Failed / RolledBack (with the condition's or the upgrade's message)
--   Suspended    spec.paused and not Ready
--   Progressing  a root rotation under way (status.certificateAuthority.rotation.phase not Idle,
--                not paused; even when Ready), an upgrade under way (named, with its phase), and
--                everything else: being deleted, not yet observed, observedGeneration behind
--                metadata.generation, reconciling
local hs = {}

local function condition(conditions, kind)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then return c.reason .. ": " .. c.message end
  return c.reason
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then generation = obj.metadata.generation end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator removes the mesh's objects before it releases its finalizer"
  return hs
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the installation"
  return hs
end

if status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation) .. " (observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end

local function current(c)
  return c ~= nil and c.observedGeneration ~= nil and c.observedGeneration >= generation
end

local stalled = condition(status.conditions, "Stalled")
if current(stalled) and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local upgrade = status.upgrade
local wanted = nil
if obj.spec ~= nil then wanted = obj.spec.version end
if upgrade ~= nil and (upgrade.phase == "Failed" or upgrade.phase == "RolledBack") and upgrade.to == wanted then
  hs.status = "Degraded"
  local detail = ""
  if upgrade.message ~= nil and upgrade.message ~= "" then detail = ": " .. upgrade.message end
  hs.message = "Upgrade " .. tostring(upgrade.from) .. " -> " .. tostring(upgrade.to) .. " " .. upgrade.phase .. detail
  return hs
end

-- A root rotation under way is progress even between its restarts, when every condition reads
-- ready: the CertificateAuthorityReady condition names its phase and what it waits for.
local rotation = nil
if status.certificateAuthority ~= nil then rotation = status.certificateAuthority.rotation end
local paused = obj.spec ~= nil and obj.spec.paused == true
if rotation ~= nil and rotation.phase ~= nil and rotation.phase ~= "Idle" and not paused then
  hs.status = "Progressing"
  local authority = condition(status.conditions, "CertificateAuthorityReady")
  if current(authority) then
    hs.message = describe(authority)
  else
    hs.message = "Root rotation: " .. rotation.phase
  end
  return hs
end

local ready = condition(status.conditions, "Ready")
if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

if paused then
  hs.status = "Suspended"
  local reconciling = condition(status.conditions, "Reconciling")
  if reconciling ~= nil and reconciling.message ~= nil and reconciling.message ~= "" then
    hs.message = reconciling.message
  else
    hs.message = "spec.paused is true"
  end
  return hs
end

hs.status = "Progressing"
local reconciling = condition(status.conditions, "Reconciling")
local upgrading = condition(status.conditions, "Upgrading")
if upgrade ~= nil and upgrade.to == wanted and current(upgrading) and upgrading.status == "True" then
  -- An upgrade under way: which one, its phase and what it waits for (status.upgrade, written
  -- with the phase; the Upgrading condition follows at the end of the operator's pass).
  local detail = upgrade.message
  if detail == nil or detail == "" then detail = upgrading.message end
  hs.message = "Upgrade " .. tostring(upgrade.from) .. " -> " .. tostring(upgrade.to) .. " " .. tostring(upgrade.phase) .. ": " .. tostring(detail)
elseif current(reconciling) and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif current(ready) and ready.message ~= nil and ready.message ~= "" then
  hs.message = describe(ready)
else
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
end
return hs
