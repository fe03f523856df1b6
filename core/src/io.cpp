#include "ursa/io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <stb_image_write.h>

namespace ursa {

static std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return make_error(errno_text("cannot open", path));
    std::vector<uint8_t> bytes;
    uint8_t buffer[1 << 16];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) return make_error(errno_text("cannot read", path));
    return bytes;
}

Result<bool> write_file_atomic(const std::string& path, const void* bytes, size_t size, bool durable) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return make_error(errno_text("cannot create", tmp));
    const auto* p = static_cast<const uint8_t*>(bytes);
    size_t left = size;
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            Error e = make_error(errno_text("cannot write", tmp));
            ::close(fd);
            ::unlink(tmp.c_str());
            return e;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (durable && ::fsync(fd) != 0 && errno != EINVAL && errno != ENOSYS) {
        Error e = make_error(errno_text("cannot sync", tmp));
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        Error e = make_error(errno_text("cannot rename into", path));
        ::unlink(tmp.c_str());
        return e;
    }
    return true;
}

namespace {

void append_to_vector(void* context, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(context);
    const auto* d = static_cast<const uint8_t*>(data);
    v->insert(v->end(), d, d + size);
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
    std::vector<uint8_t> out;
    stbi_write_png_to_func(append_to_vector, &out, width, height, channels, pixels, width * channels);
    return out;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
    std::vector<uint8_t> out;
    stbi_write_jpg_to_func(append_to_vector, &out, image.width, image.height, 3, image.pixels.data(), quality);
    return out;
}

}  // namespace ursa
