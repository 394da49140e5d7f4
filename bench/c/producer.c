// Benchmark load generator: waits for one byte on stdin (so the consumer can load its BPF filter
// for this pid first), then calls getppid() N times and exits. Prints calls/s on stderr.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	char c;
	struct timespec a, b;

	if (read(0, &c, 1) != 1)
		return 1; /* the consumer went away before starting us */
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* not the libc wrapper: never cached */
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "producer: %ld calls in %.3f s (%.0f calls/s)\n", n, s, n / s);
	return 0;
}
