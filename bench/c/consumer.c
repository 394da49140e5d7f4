// The C yardstick for bench/pipeline-throughput.ts: the same BPF object and producer, consumed
// with libbpf's ring_buffer API, every record decoded, its process looked up and formatted as the
// same JSON line the agent writes (snprintf into a batch buffer, written to /dev/null).
//
// usage: consumer [-o OBJ] [-p PRODUCER] [-n CALLS] [-k RECORDS_PER_CALL] [-r RING_MB] [-i POLL_MS]
//                 [-c PRODUCER_CPU] [-f OUT] [-N NODE_NAME] [-R PRODUCER_CALLS_PER_S] [-C] [-S]
// -C and -S add credentials and capabilities, and namespaces, to the process blocks, as the agent's
// enable_process_cred and enable_process_ns do (both off by default, as in the agent).
// Prints one line of key=value figures on stdout.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The record, as in bpf/include/palisade/events.h (checked by size below). */
struct pal_hdr {
	uint16_t type, cpu;
	uint32_t size;
	uint64_t ktime;
};
struct pal_hook {
	struct pal_hdr hdr;
	uint32_t pid, tid;
	uint64_t start_boottime;
	uint32_t hook_id;
	uint16_t action;
	uint8_t nargs, selector;
	uint32_t flags;
	int32_t value;
	uint64_t args[6];
	/* char data[]: strings, buffers; the bench's records carry none */
};
_Static_assert(sizeof(struct pal_hook) == 96, "pal_hook layout");
#define PAL_EV_HOOK 4
#define PAL_STAT_LOST_HOOK 3
#define PAL_STAT_SENT 4

extern char **environ;

/* ---- a process cache: pid -> cached JSON blocks, as the agent keeps them ---- */

struct proc_entry {
	uint32_t pid;
	int procfs; /* seeded from /proc: start time has tick resolution, not compared */
	uint64_t start_boottime;
	char *json;
	struct proc_entry *parent;
};

#define CACHE_SLOTS 4096 /* power of two, open addressing */
static struct proc_entry *cache[CACHE_SLOTS];

static struct proc_entry *cache_get(uint32_t pid)
{
	for (uint32_t i = pid & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct proc_entry *e = cache[i];
		if (e == NULL || e->pid == pid)
			return e;
	}
}

static void cache_put(struct proc_entry *e)
{
	uint32_t i = e->pid & (CACHE_SLOTS - 1);
	while (cache[i] != NULL && cache[i]->pid != e->pid)
		i = (i + 1) & (CACHE_SLOTS - 1);
	cache[i] = e;
}

/* ---- small helpers ---- */

static char *read_file(const char *path, size_t *len)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	if (len)
		*len = (size_t)n;
	return buf;
}

static void json_str(char *out, size_t cap, const char *s, size_t n)
{
	size_t w = 0;
	out[w++] = '"';
	for (size_t i = 0; i < n && w + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[w++] = '\\';
			out[w++] = (char)c;
		} else if (c < 0x20) {
			w += (size_t)snprintf(out + w, cap - w, "\\u%04x", c);
		} else {
			out[w++] = (char)c;
		}
	}
	out[w++] = '"';
	out[w] = 0;
}

static void base64(char *out, const unsigned char *in, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t w = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		out[w++] = t[(v >> 18) & 63];
		out[w++] = t[(v >> 12) & 63];
		out[w++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[w++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[w] = 0;
}

static const char *cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

static size_t caps_json(char *out, size_t cap, uint64_t v)
{
	size_t w = (size_t)snprintf(out, cap, "[");
	int first = 1;
	for (unsigned i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
		if (v >> i & 1) {
			w += (size_t)snprintf(out + w, cap - w, "%s\"%s\"", first ? "" : ",", cap_names[i]);
			first = 0;
		}
	w += (size_t)snprintf(out + w, cap - w, "]");
	return w;
}

static const char *status_field(const char *status, const char *key)
{
	char k[32];
	snprintf(k, sizeof k, "\n%s:", key);
	const char *p = strstr(status, k);
	if (!p)
		return "";
	p += strlen(k);
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Where cgroup v2 is mounted (cgroup ids are its directories' inode numbers). */
static const char *cgroup2_root(void)
{
	static char root[256];
	if (root[0])
		return root;
	FILE *f = fopen("/proc/self/mounts", "r");
	char dev[256], dir[256], type[64];
	while (f && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(root, sizeof root, "%s", dir);
			break;
		}
	if (f)
		fclose(f);
	return root;
}

static uint64_t boot_off_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */

static const char *node_name = "bench";
static int with_cred, with_ns; /* -C, -S */

static size_t fmt_time(char *out, uint64_t boot_ns);

static void exec_id(char *out, uint64_t ktime, uint32_t pid)
{
	char raw[256];
	int n = snprintf(raw, sizeof raw, "%s:%llu:%u", node_name, (unsigned long long)ktime, pid);
	base64(out, (unsigned char *)raw, (size_t)n);
}

/* A process block with the fields Process.json writes (credentials and namespaces with -C / -S),
 * read from /proc like readProc(). */
static struct proc_entry *seed_from_proc(uint32_t pid, struct proc_entry *parent)
{
	char path[64], exe[4096] = "", cwd[4096] = "", id[512], pid_exec[512];
	char *json = malloc(16384);
	size_t w = 0, len;
	struct proc_entry *e = calloc(1, sizeof *e);

	snprintf(path, sizeof path, "/proc/%u/stat", pid);
	char *stat_text = read_file(path, NULL);
	char *close_paren = strrchr(stat_text, ')');
	unsigned ppid = 0;
	unsigned long long start_ticks = 0;
	if (close_paren)
		sscanf(close_paren + 2, "%*c %u %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		       &ppid, &start_ticks);
	e->pid = pid;
	e->procfs = 1;
	e->start_boottime = start_ticks * 10000000ull;
	e->parent = parent;

	snprintf(path, sizeof path, "/proc/%u/exe", pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(path, sizeof path, "/proc/%u/cwd", pid);
	n = readlink(path, cwd, sizeof cwd - 1);
	cwd[n > 0 ? n : 0] = 0;

	snprintf(path, sizeof path, "/proc/%u/status", pid);
	char status[8192];
	snprintf(status, sizeof status, "\n%s", read_file(path, NULL));
	unsigned uid[4] = {0}, gid[4] = {0};
	sscanf(status_field(status, "Uid"), "%u %u %u %u", &uid[0], &uid[1], &uid[2], &uid[3]);
	sscanf(status_field(status, "Gid"), "%u %u %u %u", &gid[0], &gid[1], &gid[2], &gid[3]);
	unsigned long long prm = strtoull(status_field(status, "CapPrm"), NULL, 16);
	unsigned long long eff = strtoull(status_field(status, "CapEff"), NULL, 16);
	unsigned long long inh = strtoull(status_field(status, "CapInh"), NULL, 16);
	snprintf(path, sizeof path, "/proc/%u/loginuid", pid);
	unsigned long auid = strtoul(read_file(path, NULL), NULL, 10);

	/* arguments: argv[1..] joined by spaces, as Process.arguments does */
	snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
	char *cmd = read_file(path, &len);
	char args[4096] = "";
	size_t aw = 0;
	size_t first = strnlen(cmd, len);
	for (size_t i = first + 1; i < len && aw < sizeof args - 1; i++)
		args[aw++] = cmd[i] == 0 ? ' ' : cmd[i];
	while (aw > 0 && args[aw - 1] == ' ')
		aw--;
	args[aw] = 0;

	snprintf(path, sizeof path, "/proc/%u/cgroup", pid);
	char *cg = strstr(read_file(path, NULL), "0::");
	char cgpath[1024] = "";
	if (cg) {
		sscanf(cg + 3, "%1023[^\n]", cgpath);
	}
	unsigned long long cgid = 0;
	char cgfull[2048];
	struct stat st;
	snprintf(cgfull, sizeof cgfull, "%s%s", cgroup2_root(), cgpath);
	if (stat(cgfull, &st) == 0)
		cgid = st.st_ino;

	exec_id(id, (unsigned long long)(start_ticks * 10000000ull), pid);
	if (parent)
		snprintf(pid_exec, sizeof pid_exec, "%s", strstr(parent->json, "\"exec_id\":\"") + 11);
	else
		pid_exec[0] = 0;
	char *q = strchr(pid_exec, '"');
	if (q)
		*q = 0;

	char jexe[8192], jargs[8192], jcwd[8192], jcg[2048], tbuf[64];
	json_str(jexe, sizeof jexe, exe, strlen(exe));
	json_str(jargs, sizeof jargs, args, strlen(args));
	json_str(jcwd, sizeof jcwd, cwd, strlen(cwd));
	json_str(jcg, sizeof jcg, cgpath, strlen(cgpath));
	fmt_time(tbuf, start_ticks * 10000000ull);
	w += (size_t)snprintf(json + w, 16384 - w,
			      "{\"exec_id\":\"%s\",\"pid\":%u,\"tid\":%u,\"ppid\":%u,\"uid\":%u,\"auid\":%lu,\"binary\":%s,"
			      "\"arguments\":%s,\"cwd\":%s,\"flags\":\"procFS\",\"start_time\":\"%s\",\"parent_exec_id\":\"%s\","
			      "\"cgroup\":{\"id\":\"%llu\",\"path\":%s}",
			      id, pid, pid, ppid, uid[0], auid, jexe, jargs, jcwd, tbuf, pid_exec, cgid, jcg);
	if (with_cred) {
		w += (size_t)snprintf(json + w, 16384 - w,
				      ",\"process_credentials\":{\"uid\":%u,\"gid\":%u,\"euid\":%u,\"egid\":%u,\"suid\":%u,"
				      "\"sgid\":%u,\"fsuid\":%u,\"fsgid\":%u},\"cap\":{\"permitted\":",
				      uid[0], gid[0], uid[1], gid[1], uid[2], gid[2], uid[3], gid[3]);
		w += caps_json(json + w, 16384 - w, prm);
		w += (size_t)snprintf(json + w, 16384 - w, ",\"effective\":");
		w += caps_json(json + w, 16384 - w, eff);
		w += (size_t)snprintf(json + w, 16384 - w, ",\"inheritable\":");
		w += caps_json(json + w, 16384 - w, inh);
		w += (size_t)snprintf(json + w, 16384 - w, "}");
	}
	if (!with_ns) {
		snprintf(json + w, 16384 - w, "}");
		e->json = json;
		cache_put(e);
		return e;
	}
	w += (size_t)snprintf(json + w, 16384 - w, ",\"ns\":{");
	static const char *ns[] = {"uts", "ipc", "mnt", "pid", "pid_for_children", "net", "time", "time_for_children", "cgroup", "user"};
	int firstns = 1;
	for (unsigned i = 0; i < 10; i++) {
		char l[128] = "", hl[128] = "";
		snprintf(path, sizeof path, "/proc/%u/ns/%s", pid, ns[i]);
		if (readlink(path, l, sizeof l - 1) <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/1/ns/%s", ns[i]);
		readlink(path, hl, sizeof hl - 1);
		char *b = strchr(l, '[');
		if (!b)
			continue;
		w += (size_t)snprintf(json + w, 16384 - w, "%s\"%s\":{\"inum\":%lu,\"is_host\":%s}", firstns ? "" : ",", ns[i],
				      strtoul(b + 1, NULL, 10), strcmp(l, hl) == 0 ? "true" : "false");
		firstns = 0;
	}
	snprintf(json + w, 16384 - w, "}}");
	e->json = json;
	cache_put(e);
	return e;
}

/* ---- time: boot ns -> RFC 3339 with ns, the formatted second cached (as WallClock does) ---- */

static int64_t last_sec = -1;
static char last_prefix[32];

static size_t fmt_time(char *out, uint64_t boot_ns)
{
	uint64_t t = boot_ns + boot_off_ns;
	int64_t sec = (int64_t)(t / 1000000000ull);
	if (sec != last_sec) {
		time_t s = (time_t)sec;
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(last_prefix, sizeof last_prefix, "%Y-%m-%dT%H:%M:%S.", &tm);
		last_sec = sec;
	}
	return (size_t)sprintf(out, "%s%09lluZ", last_prefix, (unsigned long long)(t % 1000000000ull));
}

/* ---- consuming ---- */

static char *obuf;
static size_t obuf_len, obuf_cap = 4 << 20;
static int out_fd;
static uint64_t n_events, n_bytes, n_unknown, n_bad, seq_gaps, next_seq;

static void out_flush(void)
{
	size_t off = 0;
	while (off < obuf_len) {
		ssize_t n = write(out_fd, obuf + off, obuf_len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	n_bytes += obuf_len;
	obuf_len = 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	const struct pal_hook *h = data;
	if (size < sizeof *h || h->hdr.type != PAL_EV_HOOK || h->hook_id != 0) {
		n_bad++;
		return 0;
	}
	struct proc_entry *p = cache_get(h->pid);
	if (p == NULL || (!p->procfs && p->start_boottime != h->start_boottime)) {
		n_unknown++;
		return 0;
	}
	if (h->args[0] != next_seq)
		seq_gaps++;
	next_seq = h->args[0] + 1;
	if (obuf_cap - obuf_len < 32768)
		out_flush();
	char tbuf[64];
	fmt_time(tbuf, h->hdr.ktime);
	int n = h->nargs < 2 ? h->nargs : 2;
	obuf_len += (size_t)snprintf(obuf + obuf_len, obuf_cap - obuf_len,
				     "{\"process_tracepoint\":{\"process\":%s%s%s,"
				     "\"subsys\":\"syscalls\",\"event\":\"sys_enter_getppid\","
				     "\"args\":[{\"int_arg\":%d}%s",
				     p->json, p->parent ? ",\"parent\":" : "", p->parent ? p->parent->json : "",
				     n > 0 ? (int)h->args[0] : 0, n > 1 ? "," : "");
	if (n > 1)
		obuf_len += (size_t)snprintf(obuf + obuf_len, obuf_cap - obuf_len, "{\"ulong_arg\":\"%llu\"}",
					     (unsigned long long)h->args[1]);
	obuf_len += (size_t)snprintf(obuf + obuf_len, obuf_cap - obuf_len,
				     "],\"action\":\"KPROBE_ACTION_POST\",\"policy_name\":\"bench\"},\"node_name\":\"%s\",\"time\":\"%s\"}\n",
				     node_name,
				     tbuf);
	n_events++;
	return 0;
}

/* Sets a `const volatile` global in the object's .rodata before load, found through BTF. */
static int set_const(struct bpf_object *obj, const char *name, const void *val, size_t sz)
{
	struct btf *btf = bpf_object__btf(obj);
	int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	size_t msz;
	char *data = m ? (char *)bpf_map__initial_value(m, &msz) : NULL;
	if (!data)
		return -ENOENT;
	for (unsigned i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *vt = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, vt->name_off), name) == 0 && vs->size == sz) {
			memcpy(data + vs->offset, val, sz);
			return 0;
		}
	}
	return -ENOENT;
}

static uint64_t stat_sum(int fd, uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[1024] = {0}, sum = 0;
	if (ncpu > 1024 || bpf_map_lookup_elem(fd, &key, vals) != 0)
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *obj_path = "build/bpf/bench_producer.bpf.o", *producer = "build/bench/producer", *out_path = "/dev/null";
	long calls = 2000000, per_call = 1, ring_mb = 128, poll_ms = 1, prod_cpu = -1;
	const char *rate = "0";
	int opt;

	while ((opt = getopt(argc, argv, "o:p:n:k:r:i:c:f:N:R:CS")) != -1) {
		switch (opt) {
		case 'o': obj_path = optarg; break;
		case 'p': producer = optarg; break;
		case 'n': calls = atol(optarg); break;
		case 'k': per_call = atol(optarg); break;
		case 'r': ring_mb = atol(optarg); break;
		case 'i': poll_ms = atol(optarg); break;
		case 'c': prod_cpu = atol(optarg); break;
		case 'f': out_path = optarg; break;
		case 'N': node_name = optarg; break;
		case 'R': rate = optarg; break;
		case 'C': with_cred = 1; break;
		case 'S': with_ns = 1; break;
		default:
			fprintf(stderr, "usage: %s [-o OBJ] [-p PRODUCER] [-n CALLS] [-k PER_CALL] [-r RING_MB] [-i POLL_MS] [-c CPU] [-f OUT] [-N NODE] [-R CALLS_PER_S] [-C] [-S]\n", argv[0]);
			return 2;
		}
	}
	struct timespec rt, bt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	boot_off_ns = (uint64_t)((rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec));
	out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	obuf = malloc(obuf_cap);
	if (out_fd < 0 || !obuf) {
		perror(out_path);
		return 1;
	}

	/* The producer starts blocked on its stdin: its pid goes into the filter before load. */
	int go[2];
	if (pipe2(go, O_CLOEXEC) != 0)
		return 1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, go[0], 0);
	char ncalls[32];
	snprintf(ncalls, sizeof ncalls, "%ld", calls);
	char *pargv[] = {(char *)producer, ncalls, (char *)rate, NULL};
	pid_t child;
	if (posix_spawn(&child, producer, &fa, NULL, pargv, environ) != 0) {
		perror(producer);
		return 1;
	}
	close(go[0]);
	if (prod_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)prod_cpu, &set);
		sched_setaffinity(child, sizeof set, &set);
	}

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", obj_path, strerror(errno));
		goto kill_child;
	}
	uint32_t tgid = (uint32_t)child, k = (uint32_t)per_call;
	if (set_const(obj, "cfg_target_tgid", &tgid, 4) || set_const(obj, "cfg_records_per_call", &k, 4)) {
		fprintf(stderr, "cannot set the consts in %s\n", obj_path);
		goto kill_child;
	}
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "pal_events"), (uint32_t)(ring_mb << 20));
	if (bpf_object__load(obj) != 0) {
		fprintf(stderr, "load %s failed\n", obj_path);
		goto kill_child;
	}
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "bench_produce"));
	if (!link) {
		fprintf(stderr, "attach failed: %s (is tracefs mounted at /sys/kernel/tracing?)\n", strerror(errno));
		goto kill_child;
	}
	int stats_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "pal_stats"));
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "pal_events")), on_record, NULL, NULL);
	if (!rb)
		goto kill_child;

	/* The process cache: the producer, and its parent (this program), seeded from /proc. */
	struct proc_entry *self = seed_from_proc((uint32_t)getpid(), NULL);
	seed_from_proc((uint32_t)child, self);

	double t0 = now_s();
	if (write(go[1], "g", 1) != 1)
		goto kill_child;
	close(go[1]);
	int status = 0, done = 0;
	uint64_t drains = 0, idle = 0;
	double t_end = 0;
	for (;;) {
		int n = ring_buffer__consume(rb);
		out_flush();
		drains++;
		if (n > 0)
			continue;
		if (done)
			break;
		if (waitpid(child, &status, WNOHANG) == child) {
			done = 1; /* one more pass picks up what it wrote last */
			t_end = now_s();
			continue;
		}
		idle++;
		/* Nothing to read: sleep a poll interval (no wake-ups: the records use BPF_RB_NO_WAKEUP). */
		ring_buffer__poll(rb, (int)poll_ms);
	}
	double t1 = now_s();
	(void)t_end;
	uint64_t lost = stat_sum(stats_fd, PAL_STAT_LOST_HOOK), sent = stat_sum(stats_fd, PAL_STAT_SENT);
	double el = t1 - t0;
	printf("consumer=c events=%llu lost=%llu sent=%llu seconds=%.3f events_per_s=%.0f bytes_per_event=%.0f "
	       "unknown=%llu bad=%llu seq_gaps=%llu idle_polls=%llu\n",
	       (unsigned long long)n_events, (unsigned long long)lost, (unsigned long long)sent, el, n_events / el,
	       n_events ? (double)n_bytes / n_events : 0.0, (unsigned long long)n_unknown, (unsigned long long)n_bad,
	       (unsigned long long)seq_gaps, (unsigned long long)idle);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;

kill_child:
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 1;
}
