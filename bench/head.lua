-- wrk script: send HEAD instead of GET (/api/ping is HEAD-only, as upstream).
wrk.method = "HEAD"
