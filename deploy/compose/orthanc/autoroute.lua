-- Auto-routing for the demo: each MR series, once stable (no new instance for StableAge seconds), is sent to
-- the NPC AI node (modality "npcai" in orthanc.json) as one C-STORE job. The node's own results (SR, OT
-- Secondary Captures) are other series with other modalities, so they are never routed back to it.
function OnStableSeries(seriesId, tags, metadata)
  if tags['Modality'] == 'MR' then
    print('autoroute: MR series ' .. seriesId .. ' -> npcai')
    RestApiPost('/modalities/npcai/store', DumpJson({ Resources = { seriesId }, Synchronous = false }, true))
  end
end
