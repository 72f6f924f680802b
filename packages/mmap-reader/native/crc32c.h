#ifndef WALNUT_CRC32C_H
#define WALNUT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli), same parameters as @walnut/codec's crc32c. `crc` is a previous
 * result to continue from (0 to start). */
uint32_t walnut_crc32c(uint32_t crc, const uint8_t *data, size_t length);

/* Which implementation walnut_crc32c dispatches to: "sse4.2" or "table". */
const char *walnut_crc32c_impl(void);

/* Use the portable table from now on (tests compare both implementations). */
void walnut_crc32c_force_table(void);

#endif
