"""SynCoS: multi-event long video by synchronized coupled sampling."""
