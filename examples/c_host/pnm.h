/* pnm.h -- the smallest image files a C host can read and write without an image library:
 * PGM (gray) and PPM (RGB), binary (P5/P6) or plain text (P2/P3), any maxval 1..65535.
 * Malformed, truncated or oversized files are refused with a one-line reason. */
#ifndef INFINODE_HOST_PNM_H
#define INFINODE_HOST_PNM_H

#include <stddef.h>
#include <stdint.h>

/* Samples are normalised to 16 bits (sample * 65535 / maxval), interleaved, top row first. */
typedef struct pnm_image {
  uint32_t width, height;
  uint32_t channels; /* 1 (PGM) or 3 (PPM) */
  uint16_t* samples; /* width * height * channels, malloc'ed; release with pnm_free */
} pnm_image;

/* Reads path. Sides above max_side are refused. Returns 0 on success; otherwise fills
 * error (error_size bytes, NUL-terminated) with the reason and leaves *out empty. */
int pnm_read(const char* path, uint32_t max_side, pnm_image* out, char* error, size_t error_size);

/* Writes a binary PGM (channels 1) or PPM (channels 3) with maxval 255 from tight 8-bit
 * samples. Returns 0 on success, else fills error. */
int pnm_write_u8(const char* path, uint32_t width, uint32_t height, uint32_t channels, const uint8_t* samples,
                 char* error, size_t error_size);

void pnm_free(pnm_image* image);

#endif /* INFINODE_HOST_PNM_H */
