// cri: a minimal CRI (runtime.v1) client for tests/engines/containerd.sh.
//
// crictl is not packaged for Debian 12 and neither is k8s.io/cri-api, so this client speaks gRPC
// through Debian's google.golang.org/grpc with a pass-through codec and encodes the handful of
// protobuf messages it needs by hand (field numbers from cri-api's api.proto, runtime.v1). It is
// built in GOPATH mode:  GO111MODULE=off GOPATH=/usr/share/gocode go build -o cri ./tests/engines/cri
//
// Usage: cri -socket PATH COMMAND [flags] [args]
//
//	version                               runtime name, version, CRI api version
//	runp  [-handler H] [-hostname N] [-hostnet] [-pann K=V]... NAME  -> pod sandbox id
//	pstatus POD                           "READY|NOTREADY ip"
//	create [pod flags] [-user N] [-ro] [-env K=V]... [-cwd D] [-mem BYTES] [-ann K=V]...
//	       [-pidns pod|container] POD NAME IMAGE [CMD...]
//	                                      -> container id (pod flags must repeat runp's)
//	start CID | stop CID [SECS] | rm CID | stopp POD | rmp POD
//	cstatus CID                           "CREATED|RUNNING|EXITED|UNKNOWN exit_code"
//	exec [-timeout S] CID CMD...          command's stdout/stderr; exits with its exit code
//
// -pann and -ann are the pod's and the container's annotations (which containerd hands to the
// runtime only where the handler's pod_annotations / container_annotations list them); -pidns is
// the container's pid namespace mode: pod (the default of this client: the sandbox's, as with
// shareProcessNamespace) or container (its own, Kubernetes' default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
)

// ---- protobuf wire format, the subset CRI needs (varint and length-delimited fields) ----

type pb []byte

func (m pb) varint(v uint64) pb {
	for v >= 0x80 {
		m = append(m, byte(v)|0x80)
		v >>= 7
	}
	return append(m, byte(v))
}

func (m pb) key(field int, wire int) pb { return m.varint(uint64(field)<<3 | uint64(wire)) }

// num writes a varint field; proto3 omits zero values, and so do we.
func (m pb) num(field int, v int64) pb {
	if v == 0 {
		return m
	}
	return m.key(field, 0).varint(uint64(v))
}

func (m pb) flag(field int, b bool) pb {
	if !b {
		return m
	}
	return m.num(field, 1)
}

func (m pb) bytes(field int, b []byte) pb {
	m = m.key(field, 2).varint(uint64(len(b)))
	return append(m, b...)
}

func (m pb) str(field int, s string) pb {
	if s == "" {
		return m
	}
	return m.bytes(field, []byte(s))
}

// msg writes an embedded message even when it is empty: presence matters for messages.
func (m pb) msg(field int, sub pb) pb { return m.bytes(field, sub) }

// fields decodes one level of a message: field number -> values (uint64 or []byte).
func fields(b []byte) (map[int][]interface{}, error) {
	out := map[int][]interface{}{}
	readVarint := func() (uint64, error) {
		var v uint64
		for shift := uint(0); shift < 64; shift += 7 {
			if len(b) == 0 {
				return 0, errors.New("truncated varint")
			}
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return v, nil
			}
		}
		return 0, errors.New("varint too long")
	}
	for len(b) > 0 {
		k, err := readVarint()
		if err != nil {
			return nil, err
		}
		field, wire := int(k>>3), int(k&7)
		switch wire {
		case 0:
			v, err := readVarint()
			if err != nil {
				return nil, err
			}
			out[field] = append(out[field], v)
		case 2:
			n, err := readVarint()
			if err != nil {
				return nil, err
			}
			if uint64(len(b)) < n {
				return nil, errors.New("truncated field")
			}
			out[field] = append(out[field], b[:n])
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("truncated fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("truncated fixed32")
			}
			b = b[4:]
		default:
			return nil, fmt.Errorf("unsupported wire type %d", wire)
		}
	}
	return out, nil
}

func getStr(f map[int][]interface{}, n int) string {
	if v, ok := f[n]; ok {
		if b, ok := v[len(v)-1].([]byte); ok {
			return string(b)
		}
	}
	return ""
}

func getNum(f map[int][]interface{}, n int) uint64 {
	if v, ok := f[n]; ok {
		if u, ok := v[len(v)-1].(uint64); ok {
			return u
		}
	}
	return 0
}

func getMsg(f map[int][]interface{}, n int) map[int][]interface{} {
	sub, err := fields([]byte(getStr(f, n)))
	if err != nil {
		return map[int][]interface{}{}
	}
	return sub
}

// rawCodec hands pre-encoded protobuf bytes to grpc unchanged. Named "proto" so the
// content-type stays application/grpc+proto, which containerd's server expects.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*pb)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*pb)) = append(pb(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

type client struct {
	conn *grpc.ClientConn
}

func (c *client) call(method string, req pb) (map[int][]interface{}, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var resp pb
	if err := c.conn.Invoke(ctx, "/runtime.v1.RuntimeService/"+method, &req, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return fields(resp)
}

// ---- pod sandbox config, shared by runp and create (CreateContainer repeats it) ----

type podFlags struct {
	handler     string
	hostname    string
	hostnet     bool
	cgparent    string
	annotations multi
}

func (p *podFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.handler, "handler", "", "runtime handler (containerd runtimes.<name>)")
	fs.StringVar(&p.hostname, "hostname", "", "pod hostname")
	fs.BoolVar(&p.hostnet, "hostnet", false, "use the node's network namespace (no CNI)")
	fs.StringVar(&p.cgparent, "cgparent", "", "the pod's linux.cgroup_parent (a kubelet's kubepods-...slice with the systemd driver)")
	fs.Var(&p.annotations, "pann", "pod annotation KEY=VALUE (repeatable)")
}

// annotations writes KEY=VALUE pairs as a map<string, string> field: one entry message each.
func (m pb) annotations(field int, kvs []string) pb {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m = m.msg(field, pb{}.str(1, k).str(2, v))
	}
	return m
}

func (p *podFlags) config(name string) pb {
	meta := pb{}.str(1, name).str(2, "uid-"+name).str(3, "capsa-test").num(4, 0)
	nsopt := pb{}
	if p.hostnet {
		nsopt = nsopt.num(1, 2) // NamespaceMode NODE
	}
	sec := pb{}.msg(1, nsopt)
	linux := pb{}.str(1, p.cgparent).msg(2, sec)
	return pb{}.msg(1, meta).str(2, p.hostname).annotations(7, p.annotations).msg(8, linux)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(args []string) (int, error) {
	if len(args) < 1 {
		return 2, errors.New("usage: cri -socket PATH COMMAND ...")
	}
	top := flag.NewFlagSet("cri", flag.ContinueOnError)
	socket := top.String("socket", "/run/containerd/containerd.sock", "containerd socket")
	if err := top.Parse(args); err != nil {
		return 2, err
	}
	args = top.Args()
	if len(args) < 1 {
		return 2, errors.New("missing command")
	}
	cmd, args := args[0], args[1:]
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", *socket)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, "cri-socket", grpc.WithInsecure(), grpc.WithBlock(), grpc.WithContextDialer(dialer))
	if err != nil {
		return 1, fmt.Errorf("connect %s: %w", *socket, err)
	}
	defer conn.Close()
	c := &client{conn: conn}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var pod podFlags
	need := func(n int) error {
		if fs.NArg() < n {
			return fmt.Errorf("%s: expected %d argument(s)", cmd, n)
		}
		return nil
	}
	switch cmd {
	case "version":
		r, err := c.call("Version", pb{}.str(1, "v1"))
		if err != nil {
			return 1, err
		}
		fmt.Println(getStr(r, 2), getStr(r, 3), getStr(r, 4))
	case "runp":
		pod.register(fs)
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(1); err != nil {
			return 2, err
		}
		r, err := c.call("RunPodSandbox", pb{}.msg(1, pod.config(fs.Arg(0))).str(2, pod.handler))
		if err != nil {
			return 1, err
		}
		fmt.Println(getStr(r, 1))
	case "pstatus":
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(1); err != nil {
			return 2, err
		}
		r, err := c.call("PodSandboxStatus", pb{}.str(1, fs.Arg(0)))
		if err != nil {
			return 1, err
		}
		st := getMsg(r, 1)
		state := map[uint64]string{0: "READY", 1: "NOTREADY"}[getNum(st, 3)]
		fmt.Println(state, getStr(getMsg(st, 5), 1))
	case "create":
		pod.register(fs)
		user := fs.Int64("user", -1, "run_as_user")
		ro := fs.Bool("ro", false, "readonly rootfs")
		cwd := fs.String("cwd", "", "working directory")
		mem := fs.Int64("mem", 0, "memory limit in bytes")
		pidns := fs.String("pidns", "pod", "pid namespace: pod or container")
		var envs, anns multi
		fs.Var(&envs, "env", "KEY=VALUE (repeatable)")
		fs.Var(&anns, "ann", "container annotation KEY=VALUE (repeatable)")
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(3); err != nil {
			return 2, err
		}
		podID, name, image := fs.Arg(0), fs.Arg(1), fs.Arg(2)
		sec := pb{}.flag(7, *ro)
		switch *pidns {
		case "pod": // NamespaceMode POD is 0, the default: nothing to encode
		case "container":
			sec = sec.msg(3, pb{}.num(2, 1)) // namespace_options.pid = CONTAINER
		default:
			return 2, fmt.Errorf("create: -pidns %q: expected pod or container", *pidns)
		}
		if *user >= 0 {
			// Int64Value wrapper: presence means "set", so uid 0 still encodes the message.
			sec = sec.msg(5, pb{}.num(1, *user))
		}
		linux := pb{}.msg(2, sec)
		if *mem > 0 {
			linux = pb{}.msg(1, pb{}.num(4, *mem)).msg(2, sec)
		}
		cfg := pb{}.msg(1, pb{}.str(1, name)).msg(2, pb{}.str(1, image))
		for _, a := range fs.Args()[3:] {
			cfg = cfg.bytes(3, []byte(a))
		}
		cfg = cfg.str(5, *cwd)
		for _, e := range envs {
			k, v, _ := strings.Cut(e, "=")
			cfg = cfg.msg(6, pb{}.str(1, k).str(2, v))
		}
		cfg = cfg.annotations(10, anns).msg(15, linux)
		r, err := c.call("CreateContainer", pb{}.str(1, podID).msg(2, cfg).msg(3, pod.config(name+"-pod")))
		if err != nil {
			return 1, err
		}
		fmt.Println(getStr(r, 1))
	case "start", "rm", "stopp", "rmp", "stop":
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(1); err != nil {
			return 2, err
		}
		method := map[string]string{"start": "StartContainer", "rm": "RemoveContainer", "stopp": "StopPodSandbox", "rmp": "RemovePodSandbox", "stop": "StopContainer"}[cmd]
		req := pb{}.str(1, fs.Arg(0))
		if cmd == "stop" && fs.NArg() > 1 {
			secs, err := strconv.ParseInt(fs.Arg(1), 10, 64)
			if err != nil {
				return 2, err
			}
			req = req.num(2, secs)
		}
		if _, err := c.call(method, req); err != nil {
			return 1, err
		}
	case "cstatus":
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(1); err != nil {
			return 2, err
		}
		r, err := c.call("ContainerStatus", pb{}.str(1, fs.Arg(0)))
		if err != nil {
			return 1, err
		}
		st := getMsg(r, 1)
		state := map[uint64]string{0: "CREATED", 1: "RUNNING", 2: "EXITED", 3: "UNKNOWN"}[getNum(st, 3)]
		fmt.Println(state, int32(getNum(st, 7)))
	case "exec":
		timeout := fs.Int64("timeout", 30, "seconds")
		if err := fs.Parse(args); err != nil {
			return 2, err
		}
		if err := need(2); err != nil {
			return 2, err
		}
		req := pb{}.str(1, fs.Arg(0))
		for _, a := range fs.Args()[1:] {
			req = req.bytes(2, []byte(a))
		}
		r, err := c.call("ExecSync", req.num(3, *timeout))
		if err != nil {
			return 1, err
		}
		os.Stdout.WriteString(getStr(r, 1))
		os.Stderr.WriteString(getStr(r, 2))
		return int(int32(getNum(r, 3))), nil
	default:
		return 2, fmt.Errorf("unknown command %q", cmd)
	}
	return 0, nil
}

func main() {
	rc, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cri:", err)
		if rc == 0 {
			rc = 1
		}
	}
	os.Exit(rc)
}
