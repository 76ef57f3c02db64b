/* SPDX-License-Identifier: GPL-2.0 */
/*
 * binder-abi - the types of the helper layer shared by the conformance
 * scenarios, the fuzzer and the benchmarks (see binder-abi.c).
 */
#ifndef BINDER_ABI_H
#define BINDER_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/android/binder.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ALIGN8(x)	(((x) + 7) & ~(uint64_t)7)

/* Receive buffer of the test processes: 128 KiB, PROT_READ, MAP_PRIVATE. */
#define MAP_SIZE	(128u * 1024)
/* The benchmarks map what libbinder maps: 1 MiB minus two pages. */
#define BENCH_MAP_SIZE	(1024u * 1024 - 2 * 4096)

/* The context manager's node, as given to BINDER_SET_CONTEXT_MGR_EXT. */
#define MGR_PTR		0x6d677200ull
#define MGR_COOKIE	0x6d677201ull

#define RBUF_SIZE	512	/* read size of each BINDER_WRITE_READ */
#define WBUF_SIZE	2048

/* A buffer of BC_ commands being built. */
struct wbuf {
	size_t len;
	uint8_t data[WBUF_SIZE] __attribute__((aligned(8)));
};

/* One thread's use of a binder file. */
struct binder {
	int fd;
	uint8_t *map;		/* the receive mapping, NULL if none */
	size_t map_size;
	size_t read_size;	/* read_size of each BINDER_WRITE_READ */
	bool auto_refs;		/* answer BR_INCREFS / BR_ACQUIRE with _DONE */
	unsigned int spawn_requests;	/* BR_SPAWN_LOOPER received */
	struct wbuf queued;	/* commands to go out with the next write */
	size_t rlen, rpos;	/* bytes of the last read, parse position */
	uint8_t rbuf[RBUF_SIZE] __attribute__((aligned(8)));
};

/* One BR_ command and its argument. */
struct br {
	uint32_t cmd;
	union {
		struct binder_transaction_data tr;
		struct binder_ptr_cookie pc;
		binder_uintptr_t cookie;
		__s32 error;
		uint8_t raw[RBUF_SIZE];
	};
};

/* The BR_ commands (other than BR_NOOP) read during some exchange. */
struct seq_item {
	uint32_t cmd;
	uint64_t a, b;		/* ptr / cookie, cookie, or code */
};

struct seq {
	unsigned int n;
	struct seq_item it[32];
};

#endif /* BINDER_ABI_H */
