// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU TCG plugin for `scripts/series bench --profile`: counts the guest
 * instructions executed per translation block, and writes the counts (and
 * resets them) each time the block at address `trigger` runs, so that a
 * guest separates its phases with a call to a known kernel function.
 *
 *   -plugin tbcount.so,trigger=<hex address>,out=<file>
 *
 * Output: a line "P <n>" per phase, then "<block address> <instructions in
 * the block> <times it ran>" for each block that ran in the phase.
 *
 * Built against QEMU's plugin API version 1 (QEMU 7.2, Debian 12); the
 * few declarations it needs are below, so no QEMU headers are needed.
 *
 * The counts are exact with any number of vCPU threads (-accel
 * tcg,thread=multi): each run of a block adds to its count atomically, and
 * dump() takes the counts with atomic exchanges under a lock, on the vCPU
 * thread that hits the trigger. (Multi-threaded TCG is needed: with one
 * vCPU thread QEMU 7.2 drops the guest's memory barriers, which races with
 * the device models in QEMU's I/O thread, e.g. NVMe shadow doorbells.) A
 * block counts whole when it starts, so one that faults part way through
 * (a page fault in user space) counts a few instructions too many, alike
 * on both sides.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info;

#define EXPORT __attribute__((visibility("default")))
#define CB_NO_REGS 0

EXPORT int qemu_plugin_version = 1;

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
		void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
		void (*cb)(unsigned int, void *), int flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
		void (*cb)(qemu_plugin_id_t, void *), void *userdata);

/* One per translation; on_exec() adds 1 to `count` each time the block runs. */
struct block {
	uint64_t count;
	uint64_t vaddr;
	uint64_t insns;
};

/* Blocks live in chunks that never move: QEMU keeps pointers to `count`. */
#define CHUNK 65536
#define MAX_CHUNKS 4096
static struct block *chunks[MAX_CHUNKS];
static size_t nblocks;
static uint64_t trigger;
static FILE *out;
static int phase;
/* Serializes translations (which may run on any vCPU thread) and dumps. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct block *new_block(void)
{
	size_t c = nblocks / CHUNK;

	if (c >= MAX_CHUNKS) {
		fprintf(stderr, "tbcount: more than %d translations\n", MAX_CHUNKS * CHUNK);
		abort();
	}
	if (!chunks[c]) {
		chunks[c] = calloc(CHUNK, sizeof(struct block));
		if (!chunks[c])
			abort();
	}
	return &chunks[c][nblocks++ % CHUNK];
}

static void dump(void)
{
	pthread_mutex_lock(&lock);
	fprintf(out, "P %d\n", phase++);
	for (size_t i = 0; i < nblocks; i++) {
		struct block *b = &chunks[i / CHUNK][i % CHUNK];
		uint64_t n = __atomic_exchange_n(&b->count, 0, __ATOMIC_RELAXED);

		if (n)
			fprintf(out, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
				(unsigned long long)b->insns, (unsigned long long)n);
	}
	fflush(out);
	pthread_mutex_unlock(&lock);
}

static void on_exec(unsigned int vcpu, void *userdata)
{
	struct block *b = userdata;

	__atomic_fetch_add(&b->count, 1, __ATOMIC_RELAXED);
}

static void on_trigger(unsigned int vcpu, void *userdata)
{
	dump();
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata)
{
	dump();
	fclose(out);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b;

	pthread_mutex_lock(&lock);
	b = new_block();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, CB_NO_REGS, b);
	if (b->vaddr == trigger)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_trigger, CB_NO_REGS, NULL);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info *info,
			       int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "trigger=", 8))
			trigger = strtoull(argv[i] + 8, NULL, 16);
		else if (!strncmp(argv[i], "out=", 4))
			path = argv[i] + 4;
	}
	if (!path || !trigger) {
		fprintf(stderr, "tbcount: needs trigger=<hex address>,out=<file>\n");
		return 1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return 1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
	return 0;
}
