// PNG output: deterministic bytes, and pixels that decode back exactly.
#include <gtest/gtest.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string>
#include <vector>
#include "pcvm.h"

extern "C" {
#include "ui/png.h"
#include "ui/writefile.h"
}

namespace {

std::vector<uint32_t> test_picture(unsigned w, unsigned h)
{
	std::vector<uint32_t> px((size_t)w * h);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			px[(size_t)y * w + x] = (x * 255 / w) << 16 | (y * 255 / h) << 8 |
						((x ^ y) & 0xff);
	return px;
}

// Decodes with libpng's simplified API into 0xRRGGBB pixels.
bool decode(const uint8_t *data, size_t len, unsigned *w, unsigned *h,
	    std::vector<uint32_t> *px)
{
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		return false;
	img.format = PNG_FORMAT_RGB;
	std::vector<uint8_t> buf(PNG_IMAGE_SIZE(img));
	if (!png_image_finish_read(&img, nullptr, buf.data(), 0, nullptr))
		return false;
	*w = img.width;
	*h = img.height;
	px->resize((size_t)img.width * img.height);
	for (size_t i = 0; i < px->size(); i++)
		(*px)[i] = (uint32_t)buf[3 * i] << 16 | (uint32_t)buf[3 * i + 1] << 8 | buf[3 * i + 2];
	return true;
}

TEST(Png, SamePixelsSameBytes)
{
	auto px = test_picture(321, 203);
	uint8_t *a, *b;
	size_t la, lb;
	ASSERT_EQ(0, ui_png_encode(px.data(), 321, 203, &a, &la));
	ASSERT_EQ(0, ui_png_encode(px.data(), 321, 203, &b, &lb));
	ASSERT_EQ(la, lb);
	EXPECT_EQ(0, memcmp(a, b, la));
	EXPECT_EQ(0, memcmp(a, "\x89PNG\r\n\x1a\n", 8));
	// no time stamp or text chunks
	std::string s((char *)a, la);
	EXPECT_EQ(std::string::npos, s.find("tIME"));
	EXPECT_EQ(std::string::npos, s.find("tEXt"));
	free(a);
	free(b);
}

TEST(Png, DecodesToTheSamePixels)
{
	auto px = test_picture(640, 480);
	uint8_t *a;
	size_t la;
	ASSERT_EQ(0, ui_png_encode(px.data(), 640, 480, &a, &la));
	unsigned w, h;
	std::vector<uint32_t> back;
	ASSERT_TRUE(decode(a, la, &w, &h, &back));
	EXPECT_EQ(640u, w);
	EXPECT_EQ(480u, h);
	EXPECT_TRUE(back == px);
	free(a);
	EXPECT_EQ(-EINVAL, ui_png_encode(px.data(), 0, 480, &a, &la));
}

TEST(Png, WriteFileAtomically)
{
	char dir[] = "/tmp/pcvm-png-XXXXXX";
	ASSERT_NE(nullptr, mkdtemp(dir));
	std::string path = std::string(dir) + "/shot.png";
	auto px = test_picture(16, 8);
	ASSERT_EQ(0, ui_png_write(path.c_str(), px.data(), 16, 8));
	FILE *f = fopen(path.c_str(), "rb");
	ASSERT_NE(nullptr, f);
	std::vector<uint8_t> data(1 << 16);
	size_t n = fread(data.data(), 1, data.size(), f);
	fclose(f);
	unsigned w, h;
	std::vector<uint32_t> back;
	ASSERT_TRUE(decode(data.data(), n, &w, &h, &back));
	EXPECT_TRUE(back == px);
	// nothing but the file is left in the directory
	std::string cmd = std::string("test $(ls -A ") + dir + " | wc -l) = 1";
	EXPECT_EQ(0, system(cmd.c_str()));
	unlink(path.c_str());
	rmdir(dir);
}

TEST(Png, CheckWritable)
{
	const char *why;
	EXPECT_EQ(0, ui_check_writable("/tmp/x.png", &why));
	EXPECT_EQ(0, ui_check_writable("relative.png", &why));
	EXPECT_EQ(-ENOENT, ui_check_writable("/nonexistent-dir/x.png", &why));
	EXPECT_STREQ("its directory does not exist", why);
	EXPECT_EQ(-EISDIR, ui_check_writable("/tmp", &why));
	EXPECT_EQ(-EINVAL, ui_check_writable("", &why));
	if (geteuid() != 0) {
		EXPECT_EQ(-EACCES, ui_check_writable("/proc/x.png", &why));
	}
}

} // namespace
