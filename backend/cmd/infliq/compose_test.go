package main

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/infliq/infliq/backend/platform/config"
)

type composeFile struct {
	Services map[string]struct {
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Expose      []string          `yaml:"expose"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

// interpolate resolves ${VAR:?msg} and ${VAR:-default} the way compose does,
// with placeholder values for required secrets.
var interp = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}`)

func interpolate(v string) string {
	return interp.ReplaceAllStringFunc(v, func(m string) string {
		p := interp.FindStringSubmatch(m)
		if p[2] == "-" {
			return p[3]
		}
		return "compose-test-value-" + p[1] + "-0123456789abcdef"
	})
}

// TestComposeMatchesConfig keeps docker-compose.yml and the Go config from
// drifting: every tier runs as its own service with its own command, listens
// on the port its URL names, and its environment passes strict validation.
func TestComposeMatchesConfig(t *testing.T) {
	raw, err := os.ReadFile("../../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	for _, name := range tierNames {
		svc, ok := cf.Services[name]
		if !ok {
			t.Errorf("compose has no %s service", name)
			continue
		}
		if len(svc.Command) != 1 || svc.Command[0] != name {
			t.Errorf("%s: command %v, want [%s]", name, svc.Command, name)
		}
		env := map[string]string{}
		for k, v := range svc.Environment {
			env[k] = interpolate(v)
		}
		cfg, err := config.LoadFrom(env)
		if err != nil {
			t.Errorf("%s: its environment does not load in strict production mode: %v", name, err)
			continue
		}
		if !cfg.Strict || !cfg.Production() {
			t.Errorf("%s: compose must run in strict production mode", name)
		}
		port, err := listenPort(cfg, name)
		if err != nil {
			t.Fatal(err)
		}
		published := append(append([]string{}, svc.Expose...), svc.Ports...)
		found := false
		for _, p := range published {
			if p == strconv.Itoa(port) || p == fmt.Sprintf("%d:%d", port, port) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s listens on %d but compose exposes %v", name, port, published)
		}
		// Every upstream URL names the compose service of that tier.
		for _, other := range tierNames {
			if other == "gateway" {
				continue
			}
			u, _ := url.Parse(serviceURL(cfg, other))
			if u.Hostname() != other {
				t.Errorf("%s: %s URL %s does not point at the %s service", name, other, u, other)
			}
		}
	}
	if _, ok := cf.Services["migrate"]; !ok {
		t.Error("compose has no migrate job")
	}
	for _, dep := range []string{"postgres", "redis", "minio"} {
		if _, ok := cf.Services[dep]; !ok {
			t.Errorf("compose lacks %s", dep)
		}
	}
}
