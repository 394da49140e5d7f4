// N x fork + exec + wait of a binary (default /bin/true) with a marker argument
// "palisade-bench-<run>-<i>", so an observer's records can be counted. Prints µs per exec.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	const char *run = argc > 2 ? argv[2] : "0";
	const char *bin = argc > 3 ? argv[3] : "/bin/true";
	struct timespec a, b;
	char marker[96];

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		snprintf(marker, sizeof marker, "palisade-bench-%s-%ld", run, i);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char *args[] = {(char *)bin, marker, NULL};
			execv(bin, args);
			_exit(127);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "forkexec: child %ld failed (status %d)\n", i, st);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3;
	printf("%.2f\n", us / n);
	fprintf(stderr, "forkexec: %ld execs, %.2f us per fork+exec+wait\n", n, us / n);
	return 0;
}
