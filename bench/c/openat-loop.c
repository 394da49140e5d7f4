// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* openat-loop: N x openat(AT_FDCWD, PATH, O_RDONLY) + close(), as fast as it can or paced at RATE
 * opens/s, and prints the time per iteration (CLOCK_MONOTONIC):
 *
 *   openat-loop: 2000000 opens of /tmp/x in 1.234567 s: 617.3 ns/open (1620000 opens/s), 0 failed,
 *   median of 200 chunks of 10000: 610.2 ns/open[, getppid 135.2 ns][, empty BPF program attached]
 *
 * (chunk medians only when unpaced)
 *
 * usage: openat-loop [-e | -s | -r] [-g M] [-w] N PATH [RATE]
 *   -e  attach an empty BPF program (r0 = 0; exit) to syscalls/sys_enter_openat for the duration of
 *       the loop, the same way libbpf attaches a tracepoint program (perf_event_open on the
 *       tracepoint, PERF_EVENT_IOC_SET_BPF); it runs for every openat on the machine. Needs root
 *       and tracefs (/sys/kernel/tracing or /sys/kernel/debug/tracing).
 *   -s  the same with a program that only reads the filename: bpf_probe_read_user_str() of up to
 *       256 bytes into its stack, then returns (the bare cost of the string read a policy needs).
 *   -r  an empty program as a raw tracepoint on raw_syscalls/sys_enter (BPF_RAW_TRACEPOINT_OPEN):
 *       it runs for every syscall (here openat and close), without the perf record the per-syscall
 *       tracepoint builds. For comparison of hook types.
 *   With kernel.bpf_stats_enabled=1 the program's own run time per call is printed too.
 *   -g M  after the openats, with the program still attached, time M getppid() calls (median of
 *       10,000-call chunks): what a syscall the policy does not hook pays meanwhile.
 *   -w  wait for one byte on stdin before the loop (so a caller can see the pid first).
 *
 * The close() is not hooked by anything the benchmark loads, but while any syscall tracepoint is
 * attached every syscall takes the kernel's syscall-tracing entry path (what -g measures), close()
 * too: "added ns per iteration" is the openat's added cost plus that. A failing open (ENOENT) counts
 * as an iteration too, and in "failed".
 * Pacing: iteration i starts no earlier than start + i/RATE (clock_nanosleep TIMER_ABSTIME when
 * ahead), so the run may fall behind the rate but never gets ahead of it by more than one sleep. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The offset of sys_enter_openat's filename field in tracefs' format file, or -1. */
static long filename_offset(void)
{
	static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256], line[512];
	long off = -1;

	for (unsigned i = 0; i < sizeof(roots) / sizeof(roots[0]) && off < 0; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_openat/format", roots[i]);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, " filename;");

			if (p && (p = strstr(p, "offset:")))
				off = strtol(p + 7, NULL, 10);
		}
		fclose(f);
	}
	return off;
}

static long tracepoint_id(const char *event)
{
	static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256];
	FILE *f;
	long id = -1;

	for (unsigned i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", roots[i], event);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%ld", &id) != 1)
			id = -1;
		fclose(f);
		if (id >= 0)
			return id;
	}
	return -1;
}

/* "r0 = 0; exit" */
static const struct bpf_insn prog_empty[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/* bpf_probe_read_user_str(fp - 256, 256, ctx->filename); r0 = 0; exit. The filename pointer is at
 * offset 24 of the sys_enter_openat record (filename_offset() checks it against tracefs). */
static const struct bpf_insn prog_str[] = {
	{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_1, .off = 24 },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_10 },
	{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_1, .imm = -256 },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 256 },
	{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_probe_read_user_str },
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/* Loads one of the programs above as a tracepoint program and attaches it to
 * syscalls/sys_enter_openat. Returns the perf event fd (closing it detaches), or -1; *prog_fd gets
 * the program's fd. */
static int load_prog(enum bpf_prog_type type, const struct bpf_insn *insns, unsigned insn_cnt, const char *name)
{
	static char log[4096];
	union bpf_attr attr;
	int prog;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = insn_cnt;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
	prog = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (prog < 0)
		fprintf(stderr, "openat-loop: BPF_PROG_LOAD %s: %s\n%s\n", name, strerror(errno), log);
	return prog;
}

/* The empty program as a raw tracepoint on sys_enter: returns the raw tracepoint fd, or -1. */
static int attach_raw_empty(int *prog_fd)
{
	union bpf_attr attr;
	int prog = load_prog(BPF_PROG_TYPE_RAW_TRACEPOINT, prog_empty, sizeof(prog_empty) / sizeof(prog_empty[0]), "bench_raw_empty");
	int fd;

	if (prog < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uint64_t)(uintptr_t)"sys_enter";
	attr.raw_tracepoint.prog_fd = prog;
	fd = syscall(SYS_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
	if (fd < 0) {
		fprintf(stderr, "openat-loop: BPF_RAW_TRACEPOINT_OPEN sys_enter: %s\n", strerror(errno));
		close(prog);
		return -1;
	}
	*prog_fd = prog;
	return fd;
}

static int attach_prog(const struct bpf_insn *insns, unsigned insn_cnt, const char *name, int *prog_fd)
{
	struct perf_event_attr pa;
	long id = tracepoint_id("syscalls/sys_enter_openat");
	int prog, pfd;

	if (id < 0) {
		fprintf(stderr, "openat-loop: no tracefs id for syscalls/sys_enter_openat (is tracefs mounted?)\n");
		return -1;
	}
	prog = load_prog(BPF_PROG_TYPE_TRACEPOINT, insns, insn_cnt, name);
	if (prog < 0)
		return -1;
	memset(&pa, 0, sizeof(pa));
	pa.type = PERF_TYPE_TRACEPOINT;
	pa.size = sizeof(pa);
	pa.config = id;
	pa.sample_period = 1;
	pa.wakeup_events = 1;
	/* as libbpf does: pid -1, cpu 0; the program runs for the tracepoint on every CPU */
	pfd = syscall(SYS_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		fprintf(stderr, "openat-loop: perf_event_open: %s\n", strerror(errno));
		close(prog);
		return -1;
	}
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) < 0 || ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		fprintf(stderr, "openat-loop: attach: %s\n", strerror(errno));
		close(pfd);
		close(prog);
		return -1;
	}
	*prog_fd = prog;
	return pfd;
}

/* Unpaced runs also time each CHUNK iterations: the median chunk is what a burst of other work on
 * the CPU (this machine is shared) disturbs least. */
#define CHUNK 10000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* With kernel.bpf_stats_enabled=1 the kernel times each run of the program: print it. */
static void print_prog_stats(int prog, const char *what)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = prog;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) == 0 && info.run_cnt > 0)
		printf("openat-loop: %s program: %llu runs, %.1f ns/run (kernel.bpf_stats_enabled)\n",
		       what, (unsigned long long)info.run_cnt, (double)info.run_time_ns / info.run_cnt);
}

static double median_chunk(uint64_t *ns, uint64_t count)
{
	qsort(ns, count, sizeof(*ns), cmp_u64);
	return (count % 2 ? ns[count / 2] : (ns[count / 2 - 1] + ns[count / 2]) / 2) / (double)CHUNK;
}

/* m getppid() calls; returns the median of CHUNK-call chunks, ns per call. */
static double time_getppid(uint64_t m)
{
	uint64_t nchunks = m / CHUNK, *ns = calloc(nchunks ? nchunks : 1, sizeof(*ns)), i, t, tc;
	double med;

	if (!ns || nchunks == 0)
		return 0;
	tc = now_ns();
	for (i = 0; i < nchunks * CHUNK; i++) {
		syscall(SYS_getppid);
		if ((i + 1) % CHUNK == 0) {
			t = now_ns();
			ns[(i + 1) / CHUNK - 1] = t - tc;
			tc = t;
		}
	}
	med = median_chunk(ns, nchunks);
	free(ns);
	return med;
}

static void usage(void)
{
	fprintf(stderr, "usage: openat-loop [-e | -s | -r] [-g M] [-w] N PATH [RATE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt, wait_stdin = 0, pfd = -1, prog = -1;
	const char *attach = NULL; /* "empty", "string-read" or "raw sys_enter empty" */
	uint64_t n, rate = 0, failed = 0, t0, t1, i, nchunks, *chunk_ns = NULL, getppids = 0;
	double getppid_ns = 0;
	const char *path;

	while ((opt = getopt(argc, argv, "esrg:w")) != -1) {
		switch (opt) {
		case 'e': attach = "empty"; break;
		case 's': attach = "string-read"; break;
		case 'r': attach = "raw sys_enter empty"; break;
		case 'g': getppids = strtoull(optarg, NULL, 10); break;
		case 'w': wait_stdin = 1; break;
		default: usage();
		}
	}
	if (argc - optind < 2 || argc - optind > 3)
		usage();
	n = strtoull(argv[optind], NULL, 10);
	path = argv[optind + 1];
	if (argc - optind == 3)
		rate = strtoull(argv[optind + 2], NULL, 10);
	if (n == 0)
		usage();
	if (attach && attach[0] == 'e')
		pfd = attach_prog(prog_empty, sizeof(prog_empty) / sizeof(prog_empty[0]), "bench_empty", &prog);
	else if (attach && attach[0] == 's') {
		if (filename_offset() != prog_str[0].off) {
			fprintf(stderr, "openat-loop: -s expects sys_enter_openat's filename at offset %d, tracefs says %ld\n",
				prog_str[0].off, filename_offset());
			return 1;
		}
		pfd = attach_prog(prog_str, sizeof(prog_str) / sizeof(prog_str[0]), "bench_str", &prog);
	}
	else if (attach)
		pfd = attach_raw_empty(&prog);
	if (attach && pfd < 0)
		return 1;
	if (wait_stdin) {
		char c;

		if (read(0, &c, 1) < 0)
			perror("read");
	}

	nchunks = rate == 0 ? n / CHUNK : 0;
	if (nchunks > 0 && !(chunk_ns = calloc(nchunks, sizeof(*chunk_ns)))) {
		perror("calloc");
		return 1;
	}
	t0 = now_ns();
	if (rate == 0) {
		uint64_t tc = t0;

		for (i = 0; i < n; i++) {
			int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);

			if (fd >= 0)
				close(fd);
			else
				failed++;
			if ((i + 1) % CHUNK == 0 && (i + 1) / CHUNK <= nchunks) {
				uint64_t t = now_ns();

				chunk_ns[(i + 1) / CHUNK - 1] = t - tc;
				tc = t;
			}
		}
	} else {
		double period = 1e9 / (double)rate;

		for (i = 0; i < n; i++) {
			uint64_t due = t0 + (uint64_t)(i * period);
			int fd;

			if (now_ns() < due) {
				struct timespec ts = { .tv_sec = due / 1000000000ull, .tv_nsec = due % 1000000000ull };

				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
					;
			}
			fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
			if (fd >= 0)
				close(fd);
			else
				failed++;
		}
	}
	t1 = now_ns();
	if (getppids)
		getppid_ns = time_getppid(getppids);
	if (pfd >= 0)
		close(pfd); /* detached: the program stops counting runs */
	printf("openat-loop: %llu opens of %s in %.6f s: %.1f ns/open (%.0f opens/s), %llu failed",
	       (unsigned long long)n, path, (t1 - t0) / 1e9, (double)(t1 - t0) / n, n * 1e9 / (t1 - t0),
	       (unsigned long long)failed);
	if (nchunks > 0) {
		printf(", median of %llu chunks of %d: %.1f ns/open", (unsigned long long)nchunks, CHUNK,
		       median_chunk(chunk_ns, nchunks));
	}
	if (getppids)
		printf(", getppid %.1f ns", getppid_ns);
	if (attach)
		printf(", %s BPF program attached", attach);
	printf("\n");
	if (prog >= 0) {
		print_prog_stats(prog, attach);
		close(prog);
	}
	return 0;
}
