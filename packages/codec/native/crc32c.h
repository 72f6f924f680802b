#ifndef WALNUT_CODEC_CRC32C_H
#define WALNUT_CODEC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Picks the implementation: the SSE4.2 instruction when the CPU has it and
 * `allow_hardware` is set, else a portable table. Call once before walnut_crc32c. */
void walnut_crc32c_init(int allow_hardware);

/* CRC32C of data[0..length) continuing `crc` (a previous result, 0 to start). */
uint32_t walnut_crc32c(uint32_t crc, const uint8_t *data, size_t length);

/* "sse4.2" or "table". */
const char *walnut_crc32c_name(void);

#endif
