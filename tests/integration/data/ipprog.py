# ipprog.py - a small real program for the interpose level (interpose_real.bats): it reads,
# writes, lists and renames files in /data (a host directory the test checks), spawns a child,
# and talks over a unix socket and a loopback TCP socket. One line per step on stdout.
import os
import socket
import subprocess
import threading

d = "/data"
with open(os.path.join(d, "a.txt"), "w") as f:
    f.write("hello from python")
os.rename(os.path.join(d, "a.txt"), os.path.join(d, "b.txt"))
os.mkdir(os.path.join(d, "sub"))
print("list", " ".join(sorted(os.listdir(d))))
with open(os.path.join(d, "b.txt")) as f:
    print("read", f.read())
print("stat", os.stat(os.path.join(d, "b.txt")).st_size)
r = subprocess.run(["/bin/echo", "child says hi"], capture_output=True, text=True, check=True)
print("child", r.stdout.strip())


def serve(srv):
    c, _ = srv.accept()
    c.sendall(c.recv(100).upper())
    c.close()


path = "/tmp/ipprog.sock"
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
t = threading.Thread(target=serve, args=(srv,))
t.start()
c = socket.socket(socket.AF_UNIX)
c.connect(path)
c.sendall(b"over unix")
print("unix", c.recv(100).decode())
t.join()

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
t = threading.Thread(target=serve, args=(srv,))
t.start()
c = socket.create_connection(("127.0.0.1", port))
c.sendall(b"over tcp")
print("tcp", c.recv(100).decode())
t.join()
print("done")
