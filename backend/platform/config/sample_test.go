package config

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

// Vars lists every variable the config reads, with its default.
func vars(t reflect.Type, out map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
			out[tag] = f.Tag.Get("envDefault")
		} else if f.Type.Kind() == reflect.Struct {
			vars(f.Type, out)
		}
	}
}

// TestEnvSampleMatchesConfig keeps env.sample and the Go config from drifting:
// every variable is listed once, with the same default, and with a comment.
func TestEnvSampleMatchesConfig(t *testing.T) {
	want := map[string]string{}
	vars(reflect.TypeOf(Config{}), want)
	f, err := os.Open("../../../env.sample")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	prev := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			if _, dup := got[k]; dup {
				t.Errorf("%s listed twice", k)
			}
			got[k] = v
			if !strings.HasPrefix(prev, "# ") || len(prev) < 6 {
				t.Errorf("%s has no comment line above it", k)
			}
		}
		prev = line
	}
	for k, def := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("env.sample lacks %s (default %q)", k, def)
		} else if v != def {
			t.Errorf("env.sample says %s=%q, config default is %q", k, v, def)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("env.sample lists %s, which the config does not read", k)
		}
	}
}
