package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// s3Client GETs objects from an S3-compatible endpoint, path style, signed with SigV4 (as
// jetport's aws4fetch signs): the signing cost is part of the work.
type s3Client struct {
	endpoint, region, access, secret string
	http                             *http.Client
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// uriEncode encodes every byte except the unreserved ones (and '/' when it separates segments).
func uriEncode(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !slash) {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func (c *s3Client) signedGet(bucket, key string, now time.Time) (*http.Request, error) {
	base, err := url.Parse(c.endpoint)
	if err != nil {
		return nil, err
	}
	path := "/" + uriEncode(bucket, true) + "/" + uriEncode(key, false)
	req, err := http.NewRequest(http.MethodGet, base.Scheme+"://"+base.Host+path, nil)
	if err != nil {
		return nil, err
	}
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", emptySHA256)
	canonical := strings.Join([]string{
		http.MethodGet,
		path,
		"",
		"host:" + base.Host,
		"x-amz-content-sha256:" + emptySHA256,
		"x-amz-date:" + amzDate,
		"",
		"host;x-amz-content-sha256;x-amz-date",
		emptySHA256,
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + c.region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+c.secret), day)
	k = hmacSHA256(k, c.region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.access+"/"+scope+
		", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+
		hex.EncodeToString(hmacSHA256(k, toSign)))
	return req, nil
}
