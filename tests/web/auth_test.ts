/** The dashboard's access rules as pure functions. */
import assert from "node:assert/strict";
import {
  allowedHosts,
  bearerToken,
  generateToken,
  isAllowedOrigin,
  isLoopbackHost,
  tokenCookieName,
  tokenMatches,
} from "../../web/auth.ts";

Deno.test("isLoopbackHost() knows localhost, 127.0.0.0/8 and ::1", () => {
  for (const host of ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "LOCALHOST"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "192.168.1.2", "example.com", "::", "localhost.example"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

Deno.test("allowedHosts() is the bound address and the loopback names, with the port", () => {
  const hosts = allowedHosts("127.0.0.1", 5000);
  assert.ok(hosts.has("127.0.0.1:5000"));
  assert.ok(hosts.has("localhost:5000"));
  assert.ok(hosts.has("[::1]:5000"));
  assert.ok(!hosts.has("127.0.0.1"));
  assert.ok(!hosts.has("evil.example:5000"));
  assert.ok(allowedHosts("10.1.2.3", 8080).has("10.1.2.3:8080"));
  assert.ok(allowedHosts("::1", 80).has("[::1]"), "port 80 may be left out");
});

Deno.test("isAllowedOrigin() accepts only our own origins", () => {
  const hosts = allowedHosts("127.0.0.1", 5000);
  assert.ok(isAllowedOrigin("http://127.0.0.1:5000", hosts));
  assert.ok(isAllowedOrigin("http://localhost:5000", hosts));
  for (const origin of ["http://evil.example", "http://127.0.0.1:5001", "null", "file://", ""]) {
    assert.ok(!isAllowedOrigin(origin, hosts), origin);
  }
});

Deno.test("tokenMatches() compares whole tokens", () => {
  assert.ok(tokenMatches("abc", "abc"));
  for (const presented of ["ab", "abcd", "ABC", "", undefined, null]) {
    assert.ok(!tokenMatches(presented, "abc"), String(presented));
  }
});

Deno.test("generateToken(), bearerToken() and tokenCookieName()", () => {
  const a = generateToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, generateToken());
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer  abc "), "abc");
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken(undefined), undefined);
  assert.notEqual(tokenCookieName(5000), tokenCookieName(5001));
});
