// Command cnidrive runs a CNI network configuration list through libcni, the library that
// containerd, CRI-O and cri-dockerd call, so that a plugin sees what a real runtime sends:
// the cached prevResult on CHECK and DEL, CNI_ARGS and the runtimeConfig of its capabilities.
//
//	cnidrive add|check|del NETNAME NETNS_PATH IFNAME CONTAINERID
//	cnidrive validate NETNAME
//
// Environment: NETCONFPATH (the directory of NETNAME's .conflist), CNI_PATH (the plugin
// directories), CNI_CACHE_DIR (libcni's result cache), CNI_ARGS ("K=V;K=V") and CAP_ARGS (a
// JSON object of capability arguments, e.g. {"ips": ["10.0.0.5/24"], "mac": "02:..."}).
//
// add prints the result, validate the capabilities (a sorted JSON list). A failure exits 1 with
// its text on stderr and, when a plugin reported it, the plugin's CNI error object on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func runtimeConf(netns, ifname, containerID string) (*libcni.RuntimeConf, error) {
	rt := &libcni.RuntimeConf{ContainerID: containerID, NetNS: netns, IfName: ifname}
	for _, pair := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if pair == "" {
			continue
		}
		kv := strings.SplitN(pair, "=", 2)
		if len(kv) != 2 {
			return nil, fmt.Errorf("CNI_ARGS: %q is not KEY=VALUE", pair)
		}
		rt.Args = append(rt.Args, [2]string{kv[0], kv[1]})
	}
	if caps := os.Getenv("CAP_ARGS"); caps != "" {
		if err := json.Unmarshal([]byte(caps), &rt.CapabilityArgs); err != nil {
			return nil, fmt.Errorf("CAP_ARGS: %w", err)
		}
	}
	return rt, nil
}

func run(args []string) error {
	if len(args) < 2 || (args[0] != "validate" && len(args) != 5) {
		return errors.New("usage: cnidrive add|check|del NETNAME NETNS_PATH IFNAME CONTAINERID | validate NETNAME")
	}
	list, err := libcni.LoadConfList(os.Getenv("NETCONFPATH"), args[1])
	if err != nil {
		return err
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	if args[0] == "validate" {
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			return err
		}
		sort.Strings(caps)
		return json.NewEncoder(os.Stdout).Encode(caps)
	}
	rt, err := runtimeConf(args[2], args[3], args[4])
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		return result.Print()
	case "check":
		return cni.CheckNetworkList(ctx, list, rt)
	case "del":
		return cni.DelNetworkList(ctx, list, rt)
	}
	return fmt.Errorf("unknown verb %q", args[0])
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cnidrive:", err)
		var cniErr *types.Error
		if errors.As(err, &cniErr) {
			_ = json.NewEncoder(os.Stdout).Encode(cniErr)
		}
		os.Exit(1)
	}
}
