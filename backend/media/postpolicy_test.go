package media

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestPostPolicySigned checks the policy document and its SigV4 signature
// directly: gofakes3 enforces neither.
func TestPostPolicySigned(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	in := PostPolicyInput{Key: "posts/65a0c0ffee0000000000beef/x.jpg", ContentType: "image/jpeg", MinSize: 1, MaxSize: 1234, TTL: 15 * time.Minute}
	pp, err := signPostPolicy(creds, "eu-west-1", "bkt", "https://bkt.s3.eu-west-1.amazonaws.com", in, now)
	if err != nil {
		t.Fatal(err)
	}
	f := pp.Fields
	if f["key"] != in.Key || f["Content-Type"] != "image/jpeg" || f["x-amz-algorithm"] != "AWS4-HMAC-SHA256" ||
		f["x-amz-credential"] != "AKIDEXAMPLE/20260304/eu-west-1/s3/aws4_request" || f["x-amz-date"] != "20260304T050607Z" {
		t.Fatalf("fields: %v", f)
	}
	// The signature is HMAC(signing key, base64 policy) with the SigV4 key chain.
	want := hmacSHA256(signingKey(creds.SecretAccessKey, "20260304", "eu-west-1"), f["policy"])
	got, _ := hex.DecodeString(f["x-amz-signature"])
	if !hmac.Equal(got, want) {
		t.Fatal("signature does not verify")
	}
	raw, err := base64.StdEncoding.DecodeString(f["policy"])
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expiration string `json:"expiration"`
		Conditions []json.RawMessage
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Expiration != "2026-03-04T05:21:07.000Z" {
		t.Fatalf("expiration %s", doc.Expiration)
	}
	conds := map[string]bool{}
	for _, c := range doc.Conditions {
		conds[string(c)] = true
	}
	for _, w := range []string{
		`{"bucket":"bkt"}`,
		`["eq","$key","posts/65a0c0ffee0000000000beef/x.jpg"]`,
		`["eq","$Content-Type","image/jpeg"]`,
		`["content-length-range",1,1234]`,
		`{"x-amz-algorithm":"AWS4-HMAC-SHA256"}`,
		`{"x-amz-credential":"AKIDEXAMPLE/20260304/eu-west-1/s3/aws4_request"}`,
		`{"x-amz-date":"20260304T050607Z"}`,
	} {
		if !conds[w] {
			t.Errorf("missing condition %s in %s", w, raw)
		}
	}
	if len(doc.Conditions) != 7 {
		t.Errorf("unexpected conditions: %s", raw)
	}
	// Temporary credentials must be bound into the policy too.
	creds.SessionToken = "tok"
	pp, _ = signPostPolicy(creds, "eu-west-1", "bkt", "u", in, now)
	raw, _ = base64.StdEncoding.DecodeString(pp.Fields["policy"])
	if pp.Fields["x-amz-security-token"] != "tok" || !json.Valid(raw) || !strings.Contains(string(raw), `{"x-amz-security-token":"tok"}`) {
		t.Fatal("session token not in policy")
	}
}
