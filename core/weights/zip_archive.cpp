// Layout follows the PKWARE APPNOTE: an end-of-central-directory record (EOCD) at the end of
// the file, optionally preceded by a ZIP64 locator pointing at a ZIP64 EOCD; the central
// directory it points to has one header per member; each member's data follows its own local
// header, whose variable-length fields may differ from the central copy.
#include "weights/zip_archive.h"

#include <algorithm>

#include "common/error.h"

namespace inf {
namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSignature = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint16_t kZip64ExtraFieldId = 0x0001;

constexpr size_t kEndOfCentralDirSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndOfCentralDirSize = 56;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kMaxCommentSize = 0xffff;

// A torch checkpoint has a handful of members plus one per storage; real models have a few
// thousand. The bound only stops a forged count from driving a huge allocation.
constexpr uint64_t kMaxEntries = 10'000'000;

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t read_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t read_u64(const uint8_t* p) {
  return static_cast<uint64_t>(read_u32(p)) | (static_cast<uint64_t>(read_u32(p + 4)) << 32);
}

// Bounds-checked access to the archive bytes; every failure names the archive.
class ArchiveBytes {
 public:
  ArchiveBytes(const uint8_t* data, uint64_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}

  uint64_t size() const { return size_; }
  const std::string& source() const { return source_; }

  // Pointer to `length` bytes at `offset`, after checking they lie inside the archive.
  const uint8_t* at(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > size_ || length > size_ - offset) {
      fail(ErrorKind::invalid_data, source_, ": zip archive is truncated or corrupt: ", what, " (", length,
           " bytes at offset ", offset, ") lies outside the ", size_, "-byte file");
    }
    return data_ + offset;
  }

  [[noreturn]] void corrupt(const std::string& problem) const {
    fail(ErrorKind::invalid_data, source_, ": zip archive is corrupt: ", problem);
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  const std::string& source_;
};

struct CentralDirectory {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t entry_count = 0;
};

// The EOCD ends with a variable-length comment, so it is found by scanning backwards for its
// signature; a candidate only counts when its comment length reaches exactly the file end.
uint64_t find_end_of_central_dir(const ArchiveBytes& bytes) {
  if (bytes.size() < kEndOfCentralDirSize) {
    fail(ErrorKind::invalid_data, bytes.source(), ": file is truncated (", bytes.size(),
         " bytes): too short to be a zip archive");
  }
  const uint64_t last = bytes.size() - kEndOfCentralDirSize;
  const uint64_t first = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    const uint8_t* record = bytes.at(pos, kEndOfCentralDirSize, "end-of-central-directory record");
    if (read_u32(record) != kEndOfCentralDirSignature) continue;
    if (pos + kEndOfCentralDirSize + read_u16(record + 20) == bytes.size()) return pos;
  }
  fail(ErrorKind::invalid_data, bytes.source(),
       ": file is truncated or not a zip archive: no end-of-central-directory record found");
}

CentralDirectory read_central_directory_location(const ArchiveBytes& bytes, uint64_t eocd_pos) {
  const uint8_t* eocd = bytes.at(eocd_pos, kEndOfCentralDirSize, "end-of-central-directory record");
  if (read_u16(eocd + 4) != 0 || read_u16(eocd + 6) != 0) bytes.corrupt("multi-disk archives are not supported");

  CentralDirectory dir;
  dir.entry_count = read_u16(eocd + 10);
  dir.size = read_u32(eocd + 12);
  dir.offset = read_u32(eocd + 16);

  // torch (through miniz) writes the ZIP64 records whenever the archive needs them; the
  // locator then sits right before the classic EOCD and its values supersede the 16/32-bit ones.
  if (eocd_pos >= kZip64LocatorSize) {
    const uint8_t* locator = bytes.at(eocd_pos - kZip64LocatorSize, kZip64LocatorSize, "ZIP64 locator");
    if (read_u32(locator) == kZip64LocatorSignature) {
      const uint64_t record_pos = read_u64(locator + 8);
      if (record_pos > eocd_pos - kZip64LocatorSize) bytes.corrupt("ZIP64 end-of-central-directory record lies past its locator");
      const uint8_t* record = bytes.at(record_pos, kZip64EndOfCentralDirSize, "ZIP64 end-of-central-directory record");
      if (read_u32(record) != kZip64EndOfCentralDirSignature) bytes.corrupt("bad ZIP64 end-of-central-directory signature");
      if (read_u32(record + 16) != 0 || read_u32(record + 20) != 0) bytes.corrupt("multi-disk archives are not supported");
      dir.entry_count = read_u64(record + 32);
      dir.size = read_u64(record + 40);
      dir.offset = read_u64(record + 48);
    }
  }

  bytes.at(dir.offset, dir.size, "central directory");
  if (dir.entry_count > kMaxEntries) {
    bytes.corrupt("it claims " + std::to_string(dir.entry_count) + " members, more than the " +
                  std::to_string(kMaxEntries) + " this reader accepts");
  }
  if (dir.entry_count > dir.size / kCentralHeaderSize) {
    bytes.corrupt("it claims " + std::to_string(dir.entry_count) + " members but its central directory holds only " +
                  std::to_string(dir.size) + " bytes");
  }
  return dir;
}

// Sizes and offsets that overflow 32 bits are stored as 0xffffffff in the central header, with
// the real values in a ZIP64 extra field, in this fixed order and only for the saturated ones.
struct Zip64Fields {
  uint64_t uncompressed_size;
  uint64_t compressed_size;
  uint64_t local_header_offset;
};

void apply_zip64_extra(const ArchiveBytes& bytes, const uint8_t* extra, uint16_t extra_length,
                       const std::string& name, Zip64Fields& fields) {
  const bool need_uncompressed = fields.uncompressed_size == 0xffffffffu;
  const bool need_compressed = fields.compressed_size == 0xffffffffu;
  const bool need_offset = fields.local_header_offset == 0xffffffffu;
  if (!need_uncompressed && !need_compressed && !need_offset) return;

  size_t pos = 0;
  while (pos + 4 <= extra_length) {
    const uint16_t id = read_u16(extra + pos);
    const uint16_t length = read_u16(extra + pos + 2);
    pos += 4;
    if (length > extra_length - pos) bytes.corrupt("extra field of member '" + name + "' overruns its header");
    if (id == kZip64ExtraFieldId) {
      const uint8_t* field = extra + pos;
      const size_t needed = 8 * (size_t{need_uncompressed} + size_t{need_compressed} + size_t{need_offset});
      if (length < needed) bytes.corrupt("ZIP64 extra field of member '" + name + "' is too short");
      if (need_uncompressed) {
        fields.uncompressed_size = read_u64(field);
        field += 8;
      }
      if (need_compressed) {
        fields.compressed_size = read_u64(field);
        field += 8;
      }
      if (need_offset) fields.local_header_offset = read_u64(field);
      return;
    }
    pos += length;
  }
  bytes.corrupt("member '" + name + "' needs a ZIP64 extra field but has none");
}

// The local header repeats the name and has its own extra field (torch pads it so that data is
// 64-byte aligned), so the data offset can only be computed from the local header itself.
uint64_t locate_member_data(const ArchiveBytes& bytes, const std::string& name, uint64_t local_header_offset,
                            uint64_t size, uint64_t central_dir_offset) {
  const uint8_t* local = bytes.at(local_header_offset, kLocalHeaderSize, "local header");
  if (read_u32(local) != kLocalHeaderSignature) bytes.corrupt("bad local header signature for member '" + name + "'");
  if (read_u16(local + 8) != 0) bytes.corrupt("local header of member '" + name + "' disagrees on the compression method");
  const uint16_t name_length = read_u16(local + 26);
  const uint16_t extra_length = read_u16(local + 28);
  const uint8_t* local_name = bytes.at(local_header_offset + kLocalHeaderSize, name_length, "local header name");
  if (std::string_view(reinterpret_cast<const char*>(local_name), name_length) != name) {
    bytes.corrupt("local header of member '" + name + "' names a different member");
  }
  // local_header_offset + 30 fits (checked above); adding two 16-bit lengths cannot overflow 64 bits
  // for an offset that lies inside a file.
  const uint64_t data_offset = local_header_offset + kLocalHeaderSize + name_length + extra_length;
  bytes.at(data_offset, size, "member data");
  if (data_offset + size > central_dir_offset) {
    bytes.corrupt("data of member '" + name + "' overlaps the central directory");
  }
  return data_offset;
}

}  // namespace

ZipArchive ZipArchive::parse(const uint8_t* data, size_t size, const std::string& source_name) {
  const ArchiveBytes bytes(data, size, source_name);
  const CentralDirectory dir = read_central_directory_location(bytes, find_end_of_central_dir(bytes));

  ZipArchive archive;
  archive.entries_.reserve(static_cast<size_t>(dir.entry_count));
  uint64_t pos = dir.offset;
  const uint64_t dir_end = dir.offset + dir.size;  // checked inside the file above
  for (uint64_t i = 0; i < dir.entry_count; ++i) {
    if (dir_end - pos < kCentralHeaderSize) bytes.corrupt("central directory is shorter than its member count");
    const uint8_t* header = bytes.at(pos, kCentralHeaderSize, "central directory header");
    if (read_u32(header) != kCentralHeaderSignature) bytes.corrupt("bad central directory header signature");
    const uint16_t flags = read_u16(header + 8);
    const uint16_t method = read_u16(header + 10);
    const uint16_t name_length = read_u16(header + 28);
    const uint16_t extra_length = read_u16(header + 30);
    const uint16_t comment_length = read_u16(header + 32);
    const uint64_t header_length = kCentralHeaderSize + uint64_t{name_length} + extra_length + comment_length;
    if (dir_end - pos < header_length) bytes.corrupt("central directory header overruns the directory");

    const uint8_t* name_bytes = bytes.at(pos + kCentralHeaderSize, name_length, "member name");
    std::string name(reinterpret_cast<const char*>(name_bytes), name_length);
    if (flags & 0x1u) bytes.corrupt("member '" + name + "' is encrypted");
    if (method != 0) {
      fail(ErrorKind::invalid_data, source_name, ": zip member '", name, "' is compressed (method ", method,
           "); PyTorch checkpoints store members uncompressed, so this file was re-zipped by another "
           "tool. Re-save it with torch.save or re-zip without compression (zip -0)");
    }

    Zip64Fields fields{read_u32(header + 24), read_u32(header + 20), read_u32(header + 42)};
    apply_zip64_extra(bytes, name_bytes + name_length, extra_length, name, fields);
    if (fields.compressed_size != fields.uncompressed_size) {
      bytes.corrupt("stored member '" + name + "' has different compressed and uncompressed sizes");
    }
    if (archive.index_by_name_.count(name) != 0) bytes.corrupt("member '" + name + "' appears twice");

    ZipEntry entry;
    entry.data_offset = locate_member_data(bytes, name, fields.local_header_offset, fields.uncompressed_size, dir.offset);
    entry.size = fields.uncompressed_size;
    entry.name = std::move(name);
    archive.index_by_name_.emplace(entry.name, archive.entries_.size());
    archive.entries_.push_back(std::move(entry));
    pos += header_length;
  }
  return archive;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  const auto it = index_by_name_.find(std::string(name));
  return it == index_by_name_.end() ? nullptr : &entries_[it->second];
}

}  // namespace inf
