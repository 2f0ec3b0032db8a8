// Package pgtest starts a private PostgreSQL server for tests: a fresh
// cluster in a temporary folder, listening on a free loopback port, started
// in a few seconds and stopped by its process id. Nothing outside the folder
// is touched, so tests never depend on a database someone else set up.
//
// PostgreSQL's own binaries (initdb, postgres) must be installed; on Debian
// `apt-get install -y postgresql` brings them. Without them a test is skipped
// with that hint, except under CI (CI=true), where it fails: a test that needs
// the database must never pass in CI without having run.
//
// PostgreSQL refuses to run as root, so when the tests run as root the
// server runs as the "postgres" user, in a folder owned by it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint says how to get PostgreSQL on a Debian or Ubuntu machine.
const InstallHint = "install PostgreSQL (on Debian or Ubuntu: apt-get install -y postgresql), or put the folder holding initdb and postgres on PATH"

// ErrNotInstalled is returned, wrapped, by Start when PostgreSQL's binaries
// cannot be found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed")

// Server is a running private PostgreSQL server.
type Server struct {
	dir  string // owns everything the server writes
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	err  error         // the server's exit status, valid after done

	stopOnce sync.Once
	dbSeq    atomic.Int64
}

// debianBins is where Debian's postgresql packages put the server binaries,
// one folder per major version.
var debianBins = "/usr/lib/postgresql/*/bin"

// binDir finds the folder of initdb and postgres: PATH first, then
// Debian's versioned folders, newest first.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBins)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtest: %w: %s", ErrNotInstalled, InstallHint)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a cluster in a new temporary folder and starts a server
// on a free loopback port. Call Stop when done; the folder is removed then.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "goshawk-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir, done: make(chan struct{})}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port found free may be taken before the server binds it; try again
	// on another one rather than fail the test.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			err = s.startServer(ctx, bin, data, cred)
		}
		if err == nil {
			return s, nil
		}
		if attempt == 4 || ctx.Err() != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.done = make(chan struct{})
	}
}

// credential returns the user the server must run as: nil (this user)
// unless this is root, which PostgreSQL refuses; then "postgres", who gets
// the folder.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL will not run as root: there is no postgres user to run it as (%w); %s", err, InstallHint)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres user: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtest: hand the folder to the postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs postgres itself, not pg_ctl, so that the process we hold
// is the server and Stop can signal it by its id. Durability is switched
// off: a test database is thrown away.
func (s *Server) startServer(ctx context.Context, bin, data string, cred *syscall.Credential) error {
	logFile, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=64MB",
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server dies with the test process, even one killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.cmd = cmd
	done := s.done
	go func() {
		s.err = cmd.Wait()
		close(done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			return fmt.Errorf("pgtest: postgres exited at start (%v):\n%s", s.err, out)
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("pgtest: postgres did not accept connections within a minute: %w", err)
		}
	}
}

// Port is the server's loopback TCP port.
func (s *Server) Port() int { return s.port }

// PID is the process id of the server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// URL returns the connection URL of database db as the superuser.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/" + db}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// CreateDB creates a new, empty database and returns its URL.
func (s *Server) CreateDB(ctx context.Context) (string, error) {
	name := fmt.Sprintf("goshawk_test_%d", s.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// Stop shuts the server down (a fast shutdown, then a kill if it lingers)
// and removes its folder. Calling it again does nothing.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.halt()
		os.RemoveAll(s.dir)
	})
}

// halt stops the server process and keeps its data.
func (s *Server) halt() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Pause stops the server and keeps its data, as when the database host
// goes away; Resume starts it again on the same port.
func (s *Server) Pause() { s.halt() }

// Resume starts a paused server again on its port, with its data.
func (s *Server) Resume(ctx context.Context) error {
	bin, err := binDir()
	if err != nil {
		return err
	}
	cred, err := credential(s.dir)
	if err != nil {
		return err
	}
	s.done = make(chan struct{})
	return s.startServer(ctx, bin, filepath.Join(s.dir, "data"), cred)
}

// InCI reports whether the tests run in CI, where a test that needs
// PostgreSQL must fail rather than skip when it is missing.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

var shared struct {
	mu  sync.Mutex
	s   *Server
	err error
}

// DB returns the URL of a new, empty database on the package's shared
// server, starting the server on first use. Without PostgreSQL the test is
// skipped with the install hint, or fails under CI. The package's TestMain
// must call Main so the shared server is stopped at the end.
func DB(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Shared returns the package's shared server, starting it on first use;
// without PostgreSQL it skips the test, or fails it under CI.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		shared.s, shared.err = Start(ctx)
		cancel()
	}
	if shared.err != nil {
		Unavailable(t, shared.err)
	}
	return shared.s
}

// Unavailable ends a test that cannot get PostgreSQL: a skip that says how
// to install it, or under CI a failure.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && !InCI() {
		t.Skipf("skipped: needs PostgreSQL: %v", err)
	}
	if errors.Is(err, ErrNotInstalled) {
		t.Fatalf("CI must run this test: %v (.ci/run installs it when initdb is missing)", err)
	}
	t.Fatal(err)
}

// Main runs the package's tests and then stops the shared server, if one
// was started. Use it as the body of TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.s != nil {
		shared.s.Stop()
	}
	shared.mu.Unlock()
	return code
}

// LogTail returns the last lines of the server's log, for the message of a
// test that saw the server misbehave.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
