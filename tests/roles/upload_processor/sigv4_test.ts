import { AwsV4Signer } from "aws4fetch";
import { assertEquals } from "../../helpers/assert.ts";
import { verifySigV4 } from "../../helpers/s3_server.ts";
import { sigV4Signer, uriEncode } from "../../../src/roles/upload_processor/sigv4.ts";

// The worked examples of AWS's "Signature Calculations for the Authorization Header" (S3 API
// reference): same credentials, date and host; the signatures are the documented ones.
const AWS = { AKIAIOSFODNN7EXAMPLE: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const AT = new Date("2013-05-24T00:00:00Z");

function awsExample(path: string, signature: string, extra: Record<string, string> = {}) {
  const signed = ["host", ...Object.keys(extra), "x-amz-content-sha256", "x-amz-date"].sort();
  return {
    method: "GET",
    url: `https://examplebucket.s3.amazonaws.com${path}`,
    headers: new Headers({
      host: "examplebucket.s3.amazonaws.com",
      "x-amz-content-sha256": EMPTY,
      "x-amz-date": "20130524T000000Z",
      ...extra,
      authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/" +
        `aws4_request,SignedHeaders=${signed.join(";")},Signature=${signature}`,
    }),
    bodySha256: EMPTY,
  };
}

Deno.test("verifySigV4: AWS's documented S3 examples verify; one changed byte does not", () => {
  const examples = [
    awsExample(
      "/test.txt",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
      { range: "bytes=0-9" },
    ),
    awsExample(
      "/?lifecycle",
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    ),
    awsExample(
      "/?max-keys=2&prefix=J",
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    ),
  ];
  for (const req of examples) assertEquals(verifySigV4(req, AWS, AT), undefined, req.url);
  const tampered = examples[0];
  tampered.headers.set("range", "bytes=0-99");
  assertEquals(verifySigV4(tampered, AWS, AT)?.code, "SignatureDoesNotMatch");
  assertEquals(
    verifySigV4(examples[1], { AKIAIOSFODNN7EXAMPLE: "wrong" }, AT)?.code,
    "SignatureDoesNotMatch",
  );
  assertEquals(verifySigV4(examples[1], {}, AT)?.code, "InvalidAccessKeyId");
  assertEquals(verifySigV4(examples[1], AWS, new Date())?.code, "RequestTimeTooSkewed");
});

Deno.test("verifySigV4: keys with '@', spaces and non-ASCII, as jetport's signer sends them", async () => {
  const secrets = { KEYID: "secret/with+chars" };
  for (const key of ["uploads/o'brien@example.com/1/a b (1).txt.enc", "uploads/x/ü/résumé.pdf"]) {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const signer = new AwsV4Signer({
      url: `http://127.0.0.1:9000/bucket/${path}?x-id=GetObject`,
      accessKeyId: "KEYID",
      secretAccessKey: secrets.KEYID,
      service: "s3",
      region: "auto",
    });
    const signed = await signer.sign();
    signed.headers.set("host", signed.url.host);
    const req = { method: "GET", url: signed.url.href, headers: signed.headers, bodySha256: EMPTY };
    assertEquals(verifySigV4(req, secrets), undefined, key);
    assertEquals(verifySigV4({ ...req, method: "DELETE" }, secrets)?.code, "SignatureDoesNotMatch");
  }
});

Deno.test("sigV4Signer: its GETs verify, session token and odd keys included; another secret does not", () => {
  const creds = {
    region: "eu-central-1",
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "secret/with+chars",
    sessionToken: "token==",
  };
  const sign = sigV4Signer(creds);
  const key = ["a@b.com", "résumé final (1)!.pdf"].map(uriEncode).join("/");
  const url = new URL(`http://127.0.0.1:9000/bucket/${key}?versionId=x y`);
  const now = new Date();
  const headers = new Headers(sign(url, now));
  headers.set("host", url.host);
  const req = { method: "GET", url: url.href, headers, bodySha256: "" };
  assertEquals(verifySigV4(req, { AKIDEXAMPLE: creds.secretAccessKey }, now), undefined);
  assertEquals(headers.get("x-amz-security-token"), "token==");
  assertEquals(
    verifySigV4(req, { AKIDEXAMPLE: "another" }, now)?.code,
    "SignatureDoesNotMatch",
  );
});

Deno.test("sigV4Signer: requests in one second and across midnight each verify at their own time", () => {
  const creds = { region: "us-east-1", accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s3cret" };
  const secrets = { AKIDEXAMPLE: creds.secretAccessKey };
  const sign = sigV4Signer(creds);
  // The date string is kept per second and the signing key per day: both must follow the clock.
  const times = [
    "2026-12-01T23:59:59.100Z",
    "2026-12-01T23:59:59.900Z",
    "2026-12-02T00:00:00.050Z",
    "2026-12-02T00:00:01.000Z",
  ].map((t) => new Date(t));
  for (const [i, now] of times.entries()) {
    const url = new URL(`http://127.0.0.1:9000/bucket/key-${i}.bin`);
    const headers = new Headers(sign(url, now));
    headers.set("host", url.host);
    const req = { method: "GET", url: url.href, headers, bodySha256: "" };
    assertEquals(headers.get("x-amz-date"), now.toISOString().replace(/[-:]|\.\d{3}/g, ""));
    assertEquals(verifySigV4(req, secrets, now), undefined, now.toISOString());
  }
});
