// What the conformance scripts share: a client that sends the plugin's cookie habits (a jar fed
// by Set-Cookie, an empty value deletes) and checks that print `ok` / `FAIL` lines and count failures.

export function pluginClient(base) {
  const jar = new Map();
  let failures = 0;

  function remember(response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const [name, ...rest] = pair.split("=");
      const value = rest.join("=");
      if (value === "" || value === '""') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async function call(method, path, body) {
    const headers = { accept: "application/json" };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
    remember(response);
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: response.status, json, text };
  }

  function check(name, condition, detail) {
    if (condition) console.log(`ok   - ${name}`);
    else { failures += 1; console.log(`FAIL - ${name}: ${detail}`); }
  }

  function expectReply(name, reply, status, message) {
    check(name, reply.status === status && (message === undefined || reply.json?.message === message),
      `got ${reply.status} ${reply.text.slice(0, 300)}`);
  }

  return { jar, call, check, expectReply, failures: () => failures };
}
