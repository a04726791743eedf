/* PGM/PPM reading and writing (netpbm formats), strict about everything it cannot trust. */
#include "pnm.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char* error, size_t error_size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error, error_size, format, args);
  va_end(args);
  return 1;
}

/* Skips whitespace and '#' comments (which run to the end of the line). */
static int skip_separators(FILE* file) {
  int c = getc(file);
  for (;;) {
    if (c == '#') {
      while (c != '\n' && c != '\r' && c != EOF) c = getc(file);
    } else if (c != EOF && isspace(c)) {
      c = getc(file);
    } else {
      return c;
    }
  }
}

/* A decimal number in 0..limit followed by whitespace (or '#', or the end of a plain file).
 * The byte after the digits is consumed only when consume_terminator is set: a binary file's
 * header ends with exactly one whitespace byte before the samples. Returns 0 on success. */
static int read_number(FILE* file, uint32_t limit, int consume_terminator, uint32_t* out) {
  int c = skip_separators(file);
  uint32_t value = 0;
  int digits = 0;
  while (c != EOF && isdigit(c)) {
    const uint32_t digit = (uint32_t)(c - '0');
    if (digit > limit || value > (limit - digit) / 10) return 1; /* above limit, never overflowing */
    value = value * 10 + digit;
    ++digits;
    c = getc(file);
  }
  if (digits == 0) return 1;
  if (c != EOF && !isspace(c) && c != '#') return 1;
  if (!consume_terminator && c != EOF) ungetc(c, file);
  if (consume_terminator && (c == EOF || !isspace(c))) return 1;
  *out = value;
  return 0;
}

static uint16_t normalise(uint32_t sample, uint32_t maxval) {
  /* sample <= maxval <= 65535, so sample * 65535 + maxval / 2 < 2^32. */
  return (uint16_t)((sample * 65535u + maxval / 2u) / maxval);
}

static int read_binary_samples(FILE* file, const char* path, size_t count, uint32_t maxval, uint16_t* samples,
                               char* error, size_t error_size) {
  const size_t bytes_per_sample = maxval < 256 ? 1 : 2;
  const size_t expected = count * bytes_per_sample;
  unsigned char* raw = (unsigned char*)malloc(expected);
  size_t got, k;
  if (raw == NULL) return fail(error, error_size, "%s: out of memory for %lu bytes of pixels", path, (unsigned long)expected);
  got = fread(raw, 1, expected, file);
  if (got != expected) {
    free(raw);
    return fail(error, error_size, "%s: truncated: %lu of %lu bytes of pixels", path, (unsigned long)got,
                (unsigned long)expected);
  }
  for (k = 0; k < count; ++k) {
    const uint32_t sample = bytes_per_sample == 1 ? raw[k] : ((uint32_t)raw[2 * k] << 8) | raw[2 * k + 1];
    if (sample > maxval) {
      free(raw);
      return fail(error, error_size, "%s: sample %lu is %u, above maxval %u", path, (unsigned long)k, sample, maxval);
    }
    samples[k] = normalise(sample, maxval);
  }
  free(raw);
  return 0;
}

static int read_plain_samples(FILE* file, const char* path, size_t count, uint32_t maxval, uint16_t* samples,
                              char* error, size_t error_size) {
  size_t k;
  for (k = 0; k < count; ++k) {
    uint32_t sample;
    if (read_number(file, maxval, 0, &sample) != 0)
      return fail(error, error_size, "%s: sample %lu of %lu is missing, malformed or above maxval %u", path,
                  (unsigned long)k, (unsigned long)count, maxval);
    samples[k] = normalise(sample, maxval);
  }
  return 0;
}

int pnm_read(const char* path, uint32_t max_side, pnm_image* out, char* error, size_t error_size) {
  FILE* file;
  int magic_p, magic_digit, binary, status;
  uint32_t width, height, maxval, channels;
  size_t count;
  uint16_t* samples;

  memset(out, 0, sizeof *out);
  file = fopen(path, "rb");
  if (file == NULL) return fail(error, error_size, "%s: cannot open: %s", path, strerror(errno));
  magic_p = getc(file);
  magic_digit = getc(file);
  if (magic_p != 'P' || (magic_digit != '2' && magic_digit != '3' && magic_digit != '5' && magic_digit != '6')) {
    fclose(file);
    return fail(error, error_size, "%s: not a PGM or PPM file (expected the magic P2, P3, P5 or P6)", path);
  }
  binary = magic_digit == '5' || magic_digit == '6';
  channels = (magic_digit == '3' || magic_digit == '6') ? 3u : 1u;
  if (read_number(file, max_side, 0, &width) != 0 || read_number(file, max_side, 0, &height) != 0) {
    fclose(file);
    return fail(error, error_size, "%s: bad header: width and height must be numbers in 1..%u", path, max_side);
  }
  if (width == 0 || height == 0) {
    fclose(file);
    return fail(error, error_size, "%s: the image is empty (%ux%u)", path, width, height);
  }
  if (read_number(file, 65535u, binary, &maxval) != 0 || maxval == 0) {
    fclose(file);
    return fail(error, error_size, "%s: bad header: maxval must be a number in 1..65535", path);
  }
  /* width, height <= max_side: the product stays far from SIZE_MAX on 64-bit hosts; 32-bit
   * hosts are checked. */
  if ((size_t)width > (size_t)-1 / 2 / channels / height) {
    fclose(file);
    return fail(error, error_size, "%s: %ux%u is too large for this host", path, width, height);
  }
  count = (size_t)width * height * channels;
  samples = (uint16_t*)malloc(count * sizeof *samples);
  if (samples == NULL) {
    fclose(file);
    return fail(error, error_size, "%s: out of memory for %ux%u pixels", path, width, height);
  }
  status = binary ? read_binary_samples(file, path, count, maxval, samples, error, error_size)
                  : read_plain_samples(file, path, count, maxval, samples, error, error_size);
  fclose(file);
  if (status != 0) {
    free(samples);
    return status;
  }
  out->width = width;
  out->height = height;
  out->channels = channels;
  out->samples = samples;
  return 0;
}

int pnm_write_u8(const char* path, uint32_t width, uint32_t height, uint32_t channels, const uint8_t* samples,
                 char* error, size_t error_size) {
  const size_t count = (size_t)width * height * channels;
  FILE* file;
  int ok;
  if (channels != 1 && channels != 3) return fail(error, error_size, "%s: PNM files hold 1 or 3 channels, not %u", path, channels);
  file = fopen(path, "wb");
  if (file == NULL) return fail(error, error_size, "%s: cannot create: %s", path, strerror(errno));
  ok = fprintf(file, "P%c\n%u %u\n255\n", channels == 3 ? '6' : '5', width, height) > 0;
  ok = ok && fwrite(samples, 1, count, file) == count;
  ok = (fclose(file) == 0) && ok;
  if (!ok) return fail(error, error_size, "%s: write failed: %s", path, strerror(errno));
  return 0;
}

void pnm_free(pnm_image* image) {
  free(image->samples);
  memset(image, 0, sizeof *image);
}
