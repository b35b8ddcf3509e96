package rest

import (
	"encoding/json"
	"testing"
)

// FuzzLegacyUserUpdate: any JSON body either fails with a client error or
// becomes a consistent UpdateMeRequest (the tier's protovalidate judges the
// values); it never panics.
func FuzzLegacyUserUpdate(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"A","bio":"","age":31}`, `{"age":"x"}`, `{"age":1e40}`, `{"age":-1}`,
		`{"location":null}`, `{"location":{"coordinates":[1,2]}}`, `{"location":{"coordinates":[0,0]}}`,
		`{"location":{"latitude":1,"longitude":2}}`, `{"location":"here"}`, `{"categories":["A"," b ",""]}`,
		`{"category":"global"}`, `{"profilePhoto":"p.jpg"}`, `{"password":"x","phone":"+1","followers":[]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var b legacyUpdate
		if json.Unmarshal([]byte(body), &b) != nil {
			return
		}
		req, err := b.toUpdateMe()
		if err != nil {
			return
		}
		if req.Location != nil && req.ClearLocation {
			t.Fatal("both location and clear_location")
		}
	})
}
