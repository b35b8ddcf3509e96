package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var jsonStrings = []string{
	"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
	"hé ünïcödé 日本語 😀", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "lone \xed\xa0\x80 surrogate", strings.Repeat("x", 5000),
}

// TestAppendStringMatchesMarshal: byte-for-byte what encoding/json writes.
func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range jsonStrings {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) {
			t.Errorf("%q: got %s want %s", s, got[1:], want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	})
}

// oldDecodeEvent is the encoding/json decoding decodeValidEvent replaced.
func oldDecodeEvent(data []byte) (string, []json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) == 0 {
		return "", nil, ErrBadEvent
	}
	var name string
	if err := json.Unmarshal(arr[0], &name); err != nil || name == "" {
		return "", nil, ErrBadEvent
	}
	return name, arr[1:], nil
}

var eventPayloads = []string{
	`["send-message",{"chatId":"a","text":"hi","clientMessageId":"c"}]`,
	` [ "ev" , 1 , -2.5e3 , true , false , null , "s\"]," , [1,[2,{"a":"]"}]] , {"k":{"n":[]}} ] `,
	`["ev"]`, `[]`, `["",1]`, `[1,2]`, `[null]`, `{"a":1}`, `"str"`, `null`, `3`,
	`["\u0065v\n",{}]`, `["é",[]]`, "[\"ev\",\"\xff\"]", `["ev",[],{},""]`, "[\n\"ev\"\t,\r{}\n]",
}

// TestDecodeEventMatchesUnmarshal: same name and arguments (bytes) as
// json.Unmarshal into []json.RawMessage gave.
func TestDecodeEventMatchesUnmarshal(t *testing.T) {
	for _, p := range eventPayloads {
		checkDecodeEvent(t, []byte(p))
	}
}

func checkDecodeEvent(t *testing.T, p []byte) {
	t.Helper()
	wn, wa, werr := oldDecodeEvent(p)
	gn, ga, gerr := DecodeEvent(p)
	if (werr == nil) != (gerr == nil) || wn != gn || len(wa) != len(ga) {
		t.Fatalf("%q: got %q %q %v, want %q %q %v", p, gn, ga, gerr, wn, wa, werr)
	}
	for i := range wa {
		if !bytes.Equal(wa[i], ga[i]) {
			t.Fatalf("%q arg %d: got %s want %s", p, i, ga[i], wa[i])
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, p := range eventPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, p []byte) { checkDecodeEvent(t, p) })
}

// TestObjectMembers walks the top-level members, nested values whole.
func TestObjectMembers(t *testing.T) {
	type kv struct{ K, V string }
	var got []kv
	ok := ObjectMembers([]byte(` { "a" : 1 , "b\"":{"x":[1,"}"]}, "c":"v,", "d":null } `), func(k, v []byte) bool {
		got = append(got, kv{string(k), string(v)})
		return true
	})
	want := []kv{{`"a"`, `1`}, {`"b\""`, `{"x":[1,"}"]}`}, {`"c"`, `"v,"`}, {`"d"`, `null`}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v %v", got, ok)
	}
	for _, notObj := range []string{`[1]`, `"s"`, `null`, `1`} {
		if ObjectMembers([]byte(notObj), func(k, v []byte) bool { return true }) {
			t.Errorf("%s: walked as an object", notObj)
		}
	}
	if ObjectMembers([]byte(`{}`), func(k, v []byte) bool { t.Error("member in {}"); return true }) != true {
		t.Error("{} is an object")
	}
}

func BenchmarkDecodeSendEvent(b *testing.B) {
	pkt := []byte(`2["send-message",{"chatId":"0123456789abcdef01234567","text":"bench message","clientMessageId":"b1:1700000000000000000"}]`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := DecodePacket(pkt)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := decodeValidEvent(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}
