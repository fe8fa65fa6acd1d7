// Command gitops-referee judges objects the way GitOps tools do, with their own libraries:
//
//	gitops-referee argocd-health HEALTH_LUA OBJECT.yaml...   Argo CD's health engine (gitops-engine
//	    health.GetResourceHealth with the script configured as in argocd-cm, useOpenLibs false)
//	gitops-referee argocd-test DIR                           runs DIR/health_test.yaml as Argo CD's
//	    TestLuaHealthScript does (VM.ExecuteHealthLua), without the open libraries
//	gitops-referee kstatus OBJECT.yaml...                    sigs.k8s.io/cli-utils kstatus Compute
//
// Every judgement is printed as one JSON line; the caller decides what is right.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/gitops-engine/pkg/health"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type judgement struct {
	Input    string `json:"input"`
	Status   string `json:"status,omitempty"`
	Message  string `json:"message,omitempty"`
	Error    string `json:"error,omitempty"`
	Expected *struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"expected,omitempty"`
}

func readObject(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// As the API server's objects reach these libraries: JSON numbers as int64, not float64.
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	return obj, nil
}

func emit(j judgement) {
	line, _ := json.Marshal(j)
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: gitops-referee argocd-health|argocd-test|kstatus ARGS"))
	}
	switch os.Args[1] {
	case "argocd-health":
		script, err := os.ReadFile(os.Args[2])
		if err != nil {
			fail(err)
		}
		for _, path := range os.Args[3:] {
			j := judgement{Input: path}
			obj, err := readObject(path)
			if err != nil {
				fail(err)
			}
			overrides := lua.ResourceHealthOverrides{
				lua.GetConfigMapKey(obj.GroupVersionKind()): v1alpha1.ResourceOverride{HealthLua: string(script), UseOpenLibs: false},
			}
			result, err := health.GetResourceHealth(obj, overrides)
			if err != nil {
				j.Error = err.Error()
			} else if result != nil {
				j.Status, j.Message = string(result.Status), result.Message
			}
			emit(j)
		}
	case "argocd-test":
		dir := os.Args[2]
		script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
		if err != nil {
			fail(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		if err != nil {
			fail(err)
		}
		var suite struct {
			Tests []struct {
				InputPath    string `json:"inputPath"`
				HealthStatus struct {
					Status  string `json:"status"`
					Message string `json:"message"`
				} `json:"healthStatus"`
			} `json:"tests"`
		}
		if err := yaml.Unmarshal(data, &suite); err != nil {
			fail(err)
		}
		for _, test := range suite.Tests {
			j := judgement{Input: test.InputPath}
			expected := test.HealthStatus
			j.Expected = &expected
			obj, err := readObject(filepath.Join(dir, test.InputPath))
			if err != nil {
				fail(err)
			}
			vm := lua.VM{UseOpenLibs: false}
			result, err := vm.ExecuteHealthLua(obj, string(script))
			if err != nil {
				j.Error = err.Error()
			} else if result != nil {
				j.Status, j.Message = string(result.Status), result.Message
			}
			emit(j)
		}
	case "kstatus":
		for _, path := range os.Args[2:] {
			j := judgement{Input: path}
			obj, err := readObject(path)
			if err != nil {
				fail(err)
			}
			result, err := status.Compute(obj)
			if err != nil {
				j.Error = err.Error()
			} else {
				j.Status, j.Message = result.Status.String(), result.Message
			}
			emit(j)
		}
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}
