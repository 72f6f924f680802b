#include "crc32c.h"

#include <string.h>

/* Reflected Castagnoli polynomial (FORMAT.md, "CRC32C"). */
#define CASTAGNOLI 0x82F63B78u

static uint32_t slices[8][256];

static void fill_slices(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; bit++) c = (c >> 1) ^ (CASTAGNOLI & (0u - (c & 1)));
    slices[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; b++)
    for (int k = 1; k < 8; k++) slices[k][b] = slices[0][slices[k - 1][b] & 0xff] ^ (slices[k - 1][b] >> 8);
}

/* Portable slicing-by-8, for CPUs without the SSE4.2 crc32 instruction. */
static uint32_t crc_by_table(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    a ^= c;
    c = slices[7][a & 0xff] ^ slices[6][(a >> 8) & 0xff] ^ slices[5][(a >> 16) & 0xff] ^
        slices[4][a >> 24] ^ slices[3][b & 0xff] ^ slices[2][(b >> 8) & 0xff] ^
        slices[1][(b >> 16) & 0xff] ^ slices[0][b >> 24];
  }
  while (n--) c = slices[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
#define HW_TARGET __attribute__((target("sse4.2")))

/* Shifts a CRC state forward over `bytes` zero bytes: a 32x32 GF(2) matrix per block size,
 * applied with 4 byte-wide lookup tables, so the three interleaved streams can be merged. */
static uint32_t shift_tables[2][4][256];
static const size_t STREAM_BYTES[2] = {8192, 256};

static uint32_t gf2_times_vector(const uint32_t *mat, uint32_t vec) {
  uint32_t sum = 0;
  for (int i = 0; vec; i++, vec >>= 1)
    if (vec & 1) sum ^= mat[i];
  return sum;
}

static void gf2_square(uint32_t *out, const uint32_t *mat) {
  for (int i = 0; i < 32; i++) out[i] = gf2_times_vector(mat, mat[i]);
}

/* Matrix that advances a raw CRC register over `bytes` zero bytes (bytes a power of two). */
static void zeros_operator(uint32_t *out, size_t bytes) {
  uint32_t odd[32], even[32];
  odd[0] = CASTAGNOLI;
  for (int i = 1; i < 32; i++) odd[i] = 1u << (i - 1);
  gf2_square(even, odd); /* 2 bits */
  gf2_square(odd, even); /* 4 bits */
  gf2_square(even, odd); /* 1 byte */
  uint32_t *cur = even, *next = odd;
  for (size_t b = 1; b < bytes; b <<= 1) {
    gf2_square(next, cur);
    uint32_t *t = cur;
    cur = next;
    next = t;
  }
  memcpy(out, cur, sizeof(uint32_t) * 32);
}

static void fill_shift_tables(void) {
  for (int s = 0; s < 2; s++) {
    uint32_t op[32];
    zeros_operator(op, STREAM_BYTES[s]);
    for (int k = 0; k < 4; k++)
      for (uint32_t b = 0; b < 256; b++) shift_tables[s][k][b] = gf2_times_vector(op, b << (8 * k));
  }
}

static inline uint32_t shift(int s, uint32_t c) {
  return shift_tables[s][0][c & 0xff] ^ shift_tables[s][1][(c >> 8) & 0xff] ^
         shift_tables[s][2][(c >> 16) & 0xff] ^ shift_tables[s][3][c >> 24];
}

/* Three independent crc32 chains hide the instruction's 3-cycle latency on long inputs. */
HW_TARGET static uint64_t three_streams(int s, uint64_t c0, const uint8_t *p) {
  const size_t len = STREAM_BYTES[s];
  uint64_t c1 = 0, c2 = 0;
  const uint8_t *p1 = p + len, *p2 = p + 2 * len;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t a, b, d;
    memcpy(&a, p + i, 8);
    memcpy(&b, p1 + i, 8);
    memcpy(&d, p2 + i, 8);
    c0 = __builtin_ia32_crc32di(c0, a);
    c1 = __builtin_ia32_crc32di(c1, b);
    c2 = __builtin_ia32_crc32di(c2, d);
  }
  c0 = shift(s, (uint32_t)c0) ^ c1;
  return shift(s, (uint32_t)c0) ^ c2;
}

HW_TARGET static uint32_t crc_by_instruction(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = (uint32_t)~crc;
  for (int s = 0; s < 2; s++) {
    while (n >= 3 * STREAM_BYTES[s]) {
      c = three_streams(s, c, p);
      p += 3 * STREAM_BYTES[s];
      n -= 3 * STREAM_BYTES[s];
    }
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

static uint32_t (*selected)(uint32_t, const uint8_t *, size_t) = crc_by_table;
static const char *selected_name = "table";

void walnut_crc32c_init(int allow_hardware) {
  fill_slices();
  selected = crc_by_table;
  selected_name = "table";
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (allow_hardware && __builtin_cpu_supports("sse4.2")) {
    fill_shift_tables();
    selected = crc_by_instruction;
    selected_name = "sse4.2";
  }
#else
  (void)allow_hardware;
#endif
}

uint32_t walnut_crc32c(uint32_t crc, const uint8_t *data, size_t length) {
  return selected(crc, data, length);
}

const char *walnut_crc32c_name(void) { return selected_name; }
