package media

import "testing"

func TestKeyRules(t *testing.T) {
	allowed := []string{"general", "posts"}
	for _, k := range []string{"posts/65a0c0ffee0000000000beef/a.jpg", "1700000000000-photo_1.jpg"} {
		if !ourKeyShape(k, allowed) {
			t.Errorf("%q should be ours", k)
		}
	}
	for _, k := range []string{"", "secret/config.json", "posts/../x", "posts/65a0c0ffee0000000000beef/../../x",
		"posts//a", "/etc/passwd", "posts/notanid/a.jpg", "posts/65a0c0ffee0000000000beef/a\\b", "uploads/../server.js"} {
		if ourKeyShape(k, allowed) {
			t.Errorf("%q should not be ours", k)
		}
	}
}

func TestMaskIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77": "203.0.x.x", "::ffff:10.1.2.3": "10.1.x.x", "2001:db8:85a3::8a2e:370:7334": "2001:db8::xxxx",
		"2001:0:0::1": "2001:0::xxxx", "garbage": "x.x.x.x", "": "",
	} {
		if got := MaskIP(in); got != want {
			t.Errorf("MaskIP(%q) = %q, want %q", in, got, want)
		}
	}
}
