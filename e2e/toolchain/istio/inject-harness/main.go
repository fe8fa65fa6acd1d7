// Command meshwright-istio-inject is meshwright's harness around Istio's own sidecar injector
// (istio.io/istio/pkg/kube/inject), built from the module pinned in ../go.mod. It is the referee
// the e2e tests ask "what would Istio inject here?": nothing in it decides anything about
// injection, it only feeds Istio's code and prints what Istio's code returns.
//
//	settings --manifests DIR [--set PATH=VALUE]... [-f OVERLAY.yaml]...
//	    Renders Istio's charts (DIR is the module's manifests/) with the empty profile and the pilot
//	    component, as istioctl would, and prints the injector's settings as JSON:
//	    {"config": <istio-sidecar-injector data.config>, "values": <data.values>, "mesh": <resolved mesh config, YAML>}.
//	inject --settings FILE [--each] [common flags] [WORKLOAD...|-]
//	    Injects workloads (YAML or JSON, several documents allowed) the way `istioctl kube-inject`
//	    does (inject.IntoResourceFile) and prints the result. With --each, every document is
//	    injected on its own and one JSON line per document is printed: {"index", "output"} or
//	    {"index", "error"}, so one refused workload does not hide the others.
//	review --settings FILE [common flags] [ADMISSIONREVIEW|-]
//	    Passes an AdmissionReview through Istio's real webhook handler (inject.NewWebhook) and
//	    prints the AdmissionReview it answers.
//	serve --settings FILE --addr HOST:PORT [--tls-cert FILE --tls-key FILE] [common flags]
//	    Serves Istio's real webhook handler on /inject; prints "listening on ADDR" once it does.
//
// Common flags: --mesh FILE (a mesh config replacing the settings' one), --values FILE (injector
// values replacing the settings' ones), --mesh-exact (the mesh config is complete: no defaults
// are merged under it), --native-sidecars auto|true|false (auto: decided from the fake nodes'
// kubelet versions, as Istio does), --kubelet-version V (repeatable; the fake nodes, default
// v1.33.0 and v1.34.0), --revision R.
//
// Istio's logger writes to stdout; it is sent to stderr so stdout carries only results.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	yamlDecoder "k8s.io/apimachinery/pkg/util/yaml"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/operator/pkg/render"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/inject"
	"istio.io/istio/pkg/kube/multicluster"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/protomarshal"
)

// settings is what the injector is configured with: the two ConfigMaps' data as istiod reads them.
type settings struct {
	Config string `json:"config"`
	Values string `json:"values"`
	Mesh   string `json:"mesh"`
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	opts := istiolog.DefaultOptions()
	opts.OutputPaths = []string{"stderr"}
	opts.ErrorOutputPaths = []string{"stderr"}
	_ = istiolog.Configure(opts)
	if len(os.Args) < 2 {
		fail(errors.New("usage: meshwright-istio-inject settings|inject|review|serve [flags]"))
	}
	var err error
	switch os.Args[1] {
	case "settings":
		err = runSettings(os.Args[2:])
	case "inject", "review", "serve":
		err = runInjector(os.Args[1], os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "meshwright-istio-inject:", err)
	os.Exit(1)
}

func runSettings(args []string) error {
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	manifests := fs.String("manifests", "", "Istio's manifests/ directory")
	var sets, files multiFlag
	fs.Var(&sets, "set", "PATH=VALUE, as istioctl's --set (repeatable)")
	fs.Var(&files, "f", "an IstioOperator overlay file (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *manifests == "" {
		return errors.New("--manifests is required")
	}
	flags := append([]string{"installPackagePath=" + *manifests, "profile=empty", "components.pilot.enabled=true"}, sets...)
	sets2, _, err := render.GenerateManifest(files, flags, false, nil, nil)
	if err != nil {
		return fmt.Errorf("rendering Istio's charts: %v", err)
	}
	var out settings
	var meshData string
	for _, set := range sets2 {
		for _, m := range set.Manifests {
			if m.GetKind() != "ConfigMap" {
				continue
			}
			data, _ := m.Object["data"].(map[string]any)
			// A revisioned render names them istio-sidecar-injector-<revision> and istio-<revision>.
			switch name := m.GetName(); {
			case name == "istio-sidecar-injector" || strings.HasPrefix(name, "istio-sidecar-injector-"):
				out.Config, _ = data["config"].(string)
				out.Values, _ = data["values"].(string)
			case name == "istio" || (strings.HasPrefix(name, "istio-") && data["mesh"] != nil):
				meshData, _ = data["mesh"].(string)
			}
		}
	}
	if out.Config == "" || out.Values == "" {
		return errors.New("the render holds no istio-sidecar-injector ConfigMap")
	}
	resolved, err := mesh.ApplyMeshConfig(meshData, mesh.DefaultMeshConfig())
	if err != nil {
		return fmt.Errorf("the rendered mesh config: %v", err)
	}
	if out.Mesh, err = protomarshal.ToYAML(resolved); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// injector is Istio's injector configured from settings, with a fake cluster of nodes for native sidecar detection.
type injector struct {
	config   *inject.Config
	values   inject.ValuesConfig
	rawValue string
	mesh     *meshconfig.MeshConfig
	revision string
	client   kube.Client
	multi    *multicluster.Fake
}

func (i *injector) Inject(*corev1.Pod, string) ([]byte, error) { return nil, nil }
func (i *injector) GetKubeClient() kube.Client                 { return i.client }

func runInjector(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	settingsFile := fs.String("settings", "", "settings JSON as printed by `settings`")
	meshFile := fs.String("mesh", "", "mesh config (YAML) replacing the settings' one")
	valuesFile := fs.String("values", "", "injector values (JSON) replacing the settings' ones")
	meshExact := fs.Bool("mesh-exact", false, "the mesh config is complete: merge no defaults under it")
	native := fs.String("native-sidecars", "auto", "auto|true|false")
	revision := fs.String("revision", "", "the revision injecting")
	each := fs.Bool("each", false, "inject: every document on its own, one JSON line each")
	addr := fs.String("addr", "127.0.0.1:0", "serve: the address")
	tlsCert := fs.String("tls-cert", "", "serve: serving certificate")
	tlsKey := fs.String("tls-key", "", "serve: serving key")
	var kubelets, namespaceAnnotations multiFlag
	fs.Var(&kubelets, "kubelet-version", "a fake node's kubelet version (repeatable)")
	fs.Var(&namespaceAnnotations, "namespace-annotation", "NAMESPACE/KEY=VALUE: a fake namespace's annotation (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *settingsFile == "" {
		return errors.New("--settings is required")
	}
	var s settings
	raw, err := os.ReadFile(*settingsFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %v", *settingsFile, err)
	}
	if *meshFile != "" {
		if s.Mesh, err = readString(*meshFile); err != nil {
			return err
		}
	}
	if *valuesFile != "" {
		if s.Values, err = readString(*valuesFile); err != nil {
			return err
		}
	}
	switch *native {
	case "auto":
		features.EnableNativeSidecars = features.NativeSidecarModeAuto
	case "true":
		features.EnableNativeSidecars = features.NativeSidecarModeEnabled
	case "false":
		features.EnableNativeSidecars = features.NativeSidecarModeDisabled
	default:
		return fmt.Errorf("--native-sidecars: %q is not auto, true or false", *native)
	}
	if len(kubelets) == 0 {
		kubelets = multiFlag{"v1.33.0", "v1.34.0"}
	}
	namespaces, err := fakeNamespaces(namespaceAnnotations)
	if err != nil {
		return err
	}
	inj, stop, err := newInjector(s, *meshExact, *revision, kubelets, namespaces)
	if err != nil {
		return err
	}
	defer close(stop)
	switch cmd {
	case "inject":
		inj.start(stop)
		in, err := readInput(fs.Args())
		if err != nil {
			return err
		}
		if *each {
			return inj.injectEach(in, os.Stdout)
		}
		return inject.IntoResourceFile(inj, inj.config.Templates, inj.values, inj.revision, inj.mesh, bytes.NewReader(in), os.Stdout, warn)
	case "review":
		in, err := readInput(fs.Args())
		if err != nil {
			return err
		}
		return inj.review(in, os.Stdout, stop)
	default:
		return inj.serve(*addr, *tlsCert, *tlsKey, stop)
	}
}

func readString(file string) (string, error) {
	b, err := os.ReadFile(file)
	return string(b), err
}

func readInput(args []string) ([]byte, error) {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-") {
		return io.ReadAll(os.Stdin)
	}
	var all bytes.Buffer
	for _, f := range args {
		b, err := os.ReadFile(filepath.Clean(f))
		if err != nil {
			return nil, err
		}
		all.Write(b)
		all.WriteString("\n---\n")
	}
	return all.Bytes(), nil
}

func warn(s string) { fmt.Fprint(os.Stderr, s) }

// fakeNamespaces builds the Namespaces named by --namespace-annotation flags, with their annotations.
func fakeNamespaces(flags []string) ([]runtime.Object, error) {
	byName := map[string]*corev1.Namespace{}
	var order []string
	for _, f := range flags {
		slash := strings.Index(f, "/")
		eq := strings.Index(f, "=")
		if slash <= 0 || eq < slash+2 {
			return nil, fmt.Errorf("--namespace-annotation %q: expected NAMESPACE/KEY=VALUE", f)
		}
		name := f[:slash]
		ns, ok := byName[name]
		if !ok {
			ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
			byName[name] = ns
			order = append(order, name)
		}
		ns.Annotations[f[slash+1:eq]] = f[eq+1:]
	}
	out := make([]runtime.Object, 0, len(order))
	for _, name := range order {
		out = append(out, byName[name])
	}
	return out, nil
}

func newInjector(s settings, meshExact bool, revision string, kubelets []string, namespaces []runtime.Object) (*injector, chan struct{}, error) {
	cfg, err := inject.UnmarshalConfig([]byte(s.Config))
	if err != nil {
		return nil, nil, fmt.Errorf("injector config: %v", err)
	}
	values, err := inject.NewValuesConfig(s.Values)
	if err != nil {
		return nil, nil, fmt.Errorf("injector values: %v", err)
	}
	var mc *meshconfig.MeshConfig
	if meshExact {
		mc = &meshconfig.MeshConfig{}
		err = protomarshal.ApplyYAML(s.Mesh, mc)
	} else {
		mc, err = mesh.ApplyMeshConfig(s.Mesh, mesh.DefaultMeshConfig())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mesh config: %v", err)
	}
	var nodes []runtime.Object
	for i, v := range kubelets {
		nodes = append(nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i+1)},
			Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: v}},
		})
	}
	client := kube.NewFakeClient(append(nodes, namespaces...)...)
	return &injector{config: &cfg, values: values, rawValue: s.Values, mesh: mc, revision: revision, client: client, multi: multicluster.NewFakeController()}, make(chan struct{}), nil
}

// start adds the fake cluster and waits for its informers. Istio's webhook builds its node
// client per cluster as clusters are added, so the webhook is created before start.
func (i *injector) start(stop chan struct{}) {
	i.multi.Add(constants.DefaultClusterName, i.client, stop)
	i.client.RunAndWait(stop)
}

// injectEach injects every document of `in` on its own: one JSON line per document.
func (i *injector) injectEach(in []byte, out io.Writer) error {
	reader := yamlDecoder.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(in), 4096))
	enc := json.NewEncoder(out)
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			index--
			continue
		}
		var result bytes.Buffer
		var warnings []string
		line := map[string]any{"index": index}
		if err := inject.IntoResourceFile(i, i.config.Templates, i.values, i.revision, i.mesh, bytes.NewReader(doc), &result,
			func(s string) { warnings = append(warnings, strings.TrimSpace(s)) }); err != nil {
			line["error"] = err.Error()
		} else {
			line["output"] = result.String()
		}
		if len(warnings) > 0 {
			line["warnings"] = warnings
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
}

// staticWatcher hands Istio's webhook fixed settings.
type staticWatcher struct {
	config *inject.Config
	values string
}

func (w *staticWatcher) SetHandler(func(*inject.Config, string) error) {}
func (w *staticWatcher) Run(<-chan struct{})                           {}
func (w *staticWatcher) Get() (*inject.Config, string, error)          { return w.config, w.values, nil }

// webhook builds Istio's real webhook handler (inject.NewWebhook) on a mux.
func (i *injector) webhook() (*http.ServeMux, error) {
	env := &model.Environment{Watcher: meshwatcher.NewTestWatcher(i.mesh)}
	env.SetPushContext(&model.PushContext{ProxyConfigs: &model.ProxyConfigs{}})
	mux := http.NewServeMux()
	revision := i.revision
	if revision == "" {
		revision = "default"
	}
	_, err := inject.NewWebhook(inject.WebhookParameters{
		Watcher:      &staticWatcher{config: i.config, values: i.rawValue},
		Env:          env,
		Mux:          mux,
		Revision:     revision,
		MultiCluster: i.multi,
	})
	return mux, err
}

func (i *injector) review(in []byte, out io.Writer, stop chan struct{}) error {
	mux, err := i.webhook()
	if err != nil {
		return err
	}
	i.start(stop)
	if bytes.HasPrefix(bytes.TrimSpace(in), []byte("apiVersion")) || !bytes.HasPrefix(bytes.TrimSpace(in), []byte("{")) {
		if in, err = yamlDecoder.ToJSON(in); err != nil {
			return err
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/inject", bytes.NewReader(in))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("the webhook answered %d: %s", rec.Code, rec.Body.String())
	}
	_, err = out.Write(rec.Body.Bytes())
	return err
}

func (i *injector) serve(addr, cert, key string, stop chan struct{}) error {
	mux, err := i.webhook()
	if err != nil {
		return err
	}
	i.start(stop)
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	server := &http.Server{Handler: mux, BaseContext: func(net.Listener) context.Context { return context.Background() }}
	if cert != "" {
		return server.ServeTLS(listener, cert, key)
	}
	return server.Serve(listener)
}
