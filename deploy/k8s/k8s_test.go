// Package k8s checks the Kubernetes manifests offline: it builds each
// overlay with kustomize, decodes every object strictly into the Kubernetes
// API types (a misspelt field fails), and checks them against the Go config
// as backend/cmd/infliq/compose_test.go does for docker-compose.yml.
package k8s

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/infliq/infliq/backend/platform/config"
)

// tiers and their default ports (backend/cmd/infliq/tiers.go).
var tiers = []string{"gateway", "auth", "user", "post", "feed", "chat", "call", "realtime", "media", "notify", "admin"}

// callers is who calls each tier: the gateway routes to all of them, and
// the Connect clients built in backend/cmd/infliq/tiers.go add auth→user,
// user→auth, call→chat, realtime→chat and admin→auth, post, feed, chat.
var callers = map[string][]string{
	"auth": {"admin", "gateway", "user"}, "user": {"auth", "gateway"}, "post": {"admin", "gateway"}, "feed": {"admin", "gateway"},
	"chat": {"admin", "call", "gateway", "realtime"}, "call": {"gateway"}, "media": {"gateway"}, "notify": {"gateway"}, "admin": {"gateway"}, "realtime": {"gateway"},
}

// stateless tiers scale on CPU; realtime holds connections.
func stateless(tier string) bool { return tier != "realtime" }

type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	policies    map[string]*networkingv1.NetworkPolicy
	jobs        map[string]*batchv1.Job
	ingresses   []*networkingv1.Ingress
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
}

// build runs kustomize on an overlay and decodes every object strictly.
func build(t *testing.T, overlay string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), "overlays/"+overlay)
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", overlay, err)
	}
	o := &objects{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		policies: map[string]*networkingv1.NetworkPolicy{}, jobs: map[string]*batchv1.Job{}}
	for _, r := range rm.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind, name := r.GetKind(), r.GetName()
		var into any
		switch kind {
		case "Deployment":
			v := &appsv1.Deployment{}
			o.deployments[name], into = v, v
		case "Service":
			v := &corev1.Service{}
			o.services[name], into = v, v
		case "PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			o.pdbs[name], into = v, v
		case "HorizontalPodAutoscaler":
			v := &autoscalingv2.HorizontalPodAutoscaler{}
			o.hpas[name], into = v, v
		case "NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			o.policies[name], into = v, v
		case "Job":
			v := &batchv1.Job{}
			o.jobs[name], into = v, v
		case "Ingress":
			v := &networkingv1.Ingress{}
			o.ingresses, into = append(o.ingresses, v), v
		case "ConfigMap":
			v := &corev1.ConfigMap{}
			o.configMaps, into = append(o.configMaps, v), v
		case "Secret":
			v := &corev1.Secret{}
			o.secrets, into = append(o.secrets, v), v
		default:
			t.Errorf("%s: unexpected kind %s", overlay, kind)
			continue
		}
		if err := strict(raw, into); err != nil {
			t.Errorf("%s: %s %s: %v", overlay, kind, name, err)
		}
	}
	return o
}

// strict decodes YAML into a typed object, refusing unknown fields.
func strict(raw []byte, into any) error {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.DisallowUnknownFields()
	return d.Decode(into)
}

func TestStrictDecodingRefusesMisspeltFields(t *testing.T) {
	err := strict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n"), &appsv1.Deployment{})
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("misspelt field accepted: %v", err)
	}
}

// envOf is the environment a container gets: the ConfigMap's data, and
// placeholder values for the Secret's keys (their values live elsewhere).
func envOf(t *testing.T, o *objects, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("%s: envFrom other than the ConfigMap", c.Name)
			continue
		}
		found := false
		for _, cm := range o.configMaps {
			if cm.Name == from.ConfigMapRef.Name {
				found = true
				for k, v := range cm.Data {
					env[k] = v
				}
			}
		}
		if !found {
			t.Errorf("%s: ConfigMap %s not in the overlay", c.Name, from.ConfigMapRef.Name)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if !strings.HasPrefix(ref.Name, "infliq-secrets") || ref.Key != e.Name {
				t.Errorf("%s: %s from secret %s/%s", c.Name, e.Name, ref.Name, ref.Key)
			}
			if ref.Optional != nil && *ref.Optional {
				continue // optional: unset unless the secret store has it
			}
			env[e.Name] = placeholder(e.Name)
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

func placeholder(key string) string {
	switch key {
	case "DATABASE_URL":
		return "postgres://u:p@pgbouncer:6432/infliq"
	case "REDIS_URL":
		return "redis://redis:6379/0"
	}
	return "k8s-test-value-" + key + "-0123456789abcdef"
}

// configVars lists every variable the Go config reads.
func configVars(t reflect.Type, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
			out[tag] = true
		} else if f.Type.Kind() == reflect.Struct {
			configVars(f.Type, out)
		}
	}
}

// secretKeys are the variables that must come from the Secret, never the
// ConfigMap (credentials, tokens, keys, DSNs that carry passwords).
var secretKeys = []string{"JWT_SECRET", "INTERNAL_API_TOKEN", "DATABASE_URL", "REDIS_URL", "OTP_HMAC_KEY",
	"OTP_REVIEW_ACCOUNTS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
	"TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET"}

func port(cfg *config.Config, tier string) int {
	if tier == "gateway" {
		return cfg.GatewayListenPort()
	}
	s := cfg.Services
	raw := map[string]string{"auth": s.Auth, "user": s.User, "post": s.Post, "feed": s.Feed, "chat": s.Chat,
		"call": s.Call, "realtime": s.Realtime, "media": s.Media, "notify": s.Notify, "admin": s.Admin}[tier]
	u, _ := url.Parse(raw)
	p, _ := strconv.Atoi(u.Port())
	return p
}

func TestOverlays(t *testing.T) {
	known := map[string]bool{}
	configVars(reflect.TypeOf(config.Config{}), known)
	for _, overlay := range []string{"dev", "prod"} {
		t.Run(overlay, func(t *testing.T) {
			o := build(t, overlay)
			checkConfig(t, o, known)
			budget := 0
			for _, tier := range tiers {
				checkTier(t, o, tier)
				budget += dbConns(t, o, tier)
			}
			checkPolicies(t, o)
			checkMigrate(t, o)
			checkIngress(t, o)
			limit := 0
			for _, cm := range o.configMaps {
				limit, _ = strconv.Atoi(cm.Annotations["infliq.dev/db-connection-budget"])
			}
			t.Logf("pool budget: %d connections at full scale (HPA max + surge) of %d", budget, limit)
			if limit == 0 || budget > limit {
				t.Errorf("tiers × replicas × DB_MAX_CONNS = %d exceeds the budget %d", budget, limit)
			}
		})
	}
}

// checkConfig: ConfigMap keys are config variables and never secrets.
func checkConfig(t *testing.T, o *objects, known map[string]bool) {
	if len(o.configMaps) != 1 {
		t.Fatalf("want one ConfigMap, got %d", len(o.configMaps))
	}
	for k := range o.configMaps[0].Data {
		if !known[k] {
			t.Errorf("ConfigMap key %s is not a config variable", k)
		}
		if slices.Contains(secretKeys, k) {
			t.Errorf("ConfigMap holds secret %s", k)
		}
	}
	for _, s := range o.secrets {
		for k := range s.Data {
			if !slices.Contains(secretKeys, k) {
				t.Errorf("Secret key %s is not a secret variable", k)
			}
		}
	}
}

func checkTier(t *testing.T, o *objects, tier string) {
	t.Helper()
	d, ok := o.deployments[tier]
	if !ok {
		t.Errorf("no Deployment %s", tier)
		return
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", tier, len(spec.Containers))
	}
	c := spec.Containers[0]
	if !reflect.DeepEqual(c.Args, []string{tier}) || !strings.HasPrefix(c.Image, "ghcr.io/infliq/infliq:") {
		t.Errorf("%s: runs %s %v, want the one image with [%s]", tier, c.Image, c.Args, tier)
	}
	env := envOf(t, o, c)
	for k := range env {
		if k != "" && !slices.Contains(secretKeys, k) && !slices.Contains(keysOf(o.configMaps[0].Data), k) {
			t.Errorf("%s: env %s is neither config nor secret", tier, k)
		}
	}
	for _, k := range []string{"INTERNAL_API_TOKEN", "JWT_SECRET"} {
		if _, ok := env[k]; !ok {
			t.Errorf("%s: %s does not come from the Secret", tier, k)
		}
	}
	cfg, err := config.LoadFrom(env)
	if err != nil {
		t.Errorf("%s: its environment does not load: %v", tier, err)
		return
	}
	p := port(cfg, tier)
	if len(c.Ports) != 1 || int(c.Ports[0].ContainerPort) != p {
		t.Errorf("%s listens on %d, container ports %v", tier, p, c.Ports)
	}
	for _, other := range tiers[1:] {
		u, _ := url.Parse(map[string]string{"auth": cfg.Services.Auth, "user": cfg.Services.User, "post": cfg.Services.Post,
			"feed": cfg.Services.Feed, "chat": cfg.Services.Chat, "call": cfg.Services.Call, "realtime": cfg.Services.Realtime,
			"media": cfg.Services.Media, "notify": cfg.Services.Notify, "admin": cfg.Services.Admin}[other])
		if u.Hostname() != other {
			t.Errorf("%s: %s URL %s does not name the %s Service", tier, other, u, other)
		}
	}
	svc, ok := o.services[tier]
	if !ok || len(svc.Spec.Ports) != 1 || int(svc.Spec.Ports[0].Port) != p || svc.Spec.Selector["app.kubernetes.io/name"] != tier {
		t.Errorf("%s: Service does not expose port %d of the tier's pods", tier, p)
	}
	// Readiness on gRPC health (the gateway has none: its /health).
	r := c.ReadinessProbe
	switch {
	case r == nil:
		t.Errorf("%s: no readiness probe", tier)
	case tier == "gateway" && (r.HTTPGet == nil || r.HTTPGet.Path != "/health"):
		t.Errorf("gateway: readiness must be GET /health")
	case tier != "gateway" && (r.GRPC == nil || int(r.GRPC.Port) != p):
		t.Errorf("%s: readiness must be gRPC health on %d", tier, p)
	}
	// Liveness must not fail because the pod is busy or a dependency is down.
	if l := c.LivenessProbe; l == nil || l.TCPSocket == nil || l.FailureThreshold < 3 || l.TimeoutSeconds < 2 {
		t.Errorf("%s: liveness must be a lenient TCP check, got %+v", tier, l)
	}
	// Termination: preStop, then SHUTDOWN_GRACE to drain, inside the grace period.
	pre := int64(0)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Errorf("%s: no preStop sleep", tier)
	} else {
		pre = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < pre+int64(cfg.ShutdownGrace.D().Seconds())+1 {
		t.Errorf("%s: terminationGracePeriodSeconds %v < preStop %d + SHUTDOWN_GRACE %v", tier, g, pre, cfg.ShutdownGrace.D())
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() || lim.Cpu().IsZero() {
		t.Errorf("%s: requests and limits must be set: %v %v", tier, req, lim)
	}
	if _, ok := o.pdbs[tier]; !ok {
		t.Errorf("%s: no PodDisruptionBudget", tier)
	}
	h, ok := o.hpas[tier]
	if stateless(tier) {
		if !ok || h.Spec.ScaleTargetRef.Name != tier || len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("%s: no CPU HorizontalPodAutoscaler", tier)
		}
	} else if ok {
		t.Errorf("%s holds connections; it must not autoscale on CPU", tier)
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// dbConns is the tier's share of PostgreSQL connections at full scale: the
// HPA's maximum (else the replica count) plus one surge pod, times
// DB_MAX_CONNS. The gateway opens no pool.
func dbConns(t *testing.T, o *objects, tier string) int {
	d, ok := o.deployments[tier]
	if !ok || tier == "gateway" {
		return 0
	}
	replicas := 1
	if d.Spec.Replicas != nil {
		replicas = int(*d.Spec.Replicas)
	}
	if h, ok := o.hpas[tier]; ok {
		replicas = int(h.Spec.MaxReplicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		replicas += ru.MaxSurge.IntValue()
	}
	v := o.configMaps[0].Data["DB_MAX_CONNS"]
	for _, e := range d.Spec.Template.Spec.Containers[0].Env { // a tier's own pool size wins
		if e.Name == "DB_MAX_CONNS" {
			v = e.Value
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("DB_MAX_CONNS: %v", err)
	}
	return replicas * n
}

// checkPolicies: default deny; the gateway open; every other tier open only
// to the gateway and its callers, on its port.
func checkPolicies(t *testing.T, o *objects) {
	dd, ok := o.policies["default-deny-ingress"]
	if !ok || len(dd.Spec.PodSelector.MatchLabels) != 0 || len(dd.Spec.Ingress) != 0 {
		t.Error("no default-deny ingress policy")
	}
	gw := o.policies["gateway"]
	if gw == nil || len(gw.Spec.Ingress) != 1 || len(gw.Spec.Ingress[0].From) != 0 {
		t.Error("gateway must accept traffic from anywhere on its port")
	}
	for tier, want := range callers {
		p := o.policies[tier]
		if p == nil || p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != tier || len(p.Spec.Ingress) != 1 {
			t.Errorf("%s: no NetworkPolicy", tier)
			continue
		}
		var got []string
		for _, f := range p.Spec.Ingress[0].From {
			if f.PodSelector == nil || f.NamespaceSelector != nil || f.IPBlock != nil {
				t.Errorf("%s: policy admits more than pods of this namespace", tier)
				continue
			}
			got = append(got, f.PodSelector.MatchLabels["app.kubernetes.io/name"])
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: admits %v, its callers are %v", tier, got, want)
		}
		svc := o.services[tier]
		if ports := p.Spec.Ingress[0].Ports; svc == nil || len(ports) != 1 || ports[0].Port.IntValue() != int(svc.Spec.Ports[0].Port) {
			t.Errorf("%s: policy ports %v", tier, p.Spec.Ingress[0].Ports)
		}
	}
}

func checkMigrate(t *testing.T, o *objects) {
	j, ok := o.jobs["migrate"]
	if !ok {
		t.Fatal("no migrate Job")
	}
	c := j.Spec.Template.Spec.Containers[0]
	if !reflect.DeepEqual(c.Args, []string{"migrate", "up"}) {
		t.Errorf("migrate Job runs %v", c.Args)
	}
	env := envOf(t, o, c)
	if _, err := config.LoadFrom(env); err != nil {
		t.Errorf("migrate Job environment: %v", err)
	}
	if env["MIGRATE_ON_START"] == "true" {
		t.Error("tiers must not migrate on start: the Job does")
	}
}

func checkIngress(t *testing.T, o *objects) {
	if len(o.ingresses) != 1 {
		t.Fatalf("want one Ingress, got %d", len(o.ingresses))
	}
	for _, r := range o.ingresses[0].Spec.Rules {
		for _, p := range r.HTTP.Paths {
			if b := p.Backend.Service; b == nil || b.Name != "gateway" {
				t.Errorf("Ingress routes %s to %v; only the gateway is public", p.Path, p.Backend)
			}
		}
	}
	if o.ingresses[0].Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "" {
		t.Error("Ingress without a long read timeout: websockets would be cut")
	}
}
