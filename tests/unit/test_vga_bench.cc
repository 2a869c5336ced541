// Display costs, for `make bench` (tests/bench/bench-display.sh). Disabled
// in `make test`: they print figures and check nothing about speed.
#include "vga_fixture.h"

#include <chrono>
#include <functional>
#include <cstdio>

namespace {

double per_call_us(int n, const std::function<void()> &fn)
{
	auto t0 = std::chrono::steady_clock::now();
	for (int i = 0; i < n; i++)
		fn();
	auto t1 = std::chrono::steady_clock::now();
	return std::chrono::duration<double, std::micro>(t1 - t0).count() / n;
}

TEST_F(VgaTest, DISABLED_Bench)
{
	struct vga_image img = {};
	struct vga_text txt = {};
	set_mode(kMode03);
	for (int i = 0; i < 4000; i++)
		wb(0xb8000 + i, (uint8_t)(i * 7));
	printf("  idle change check, text mode:      %8.2f us\n",
	       per_call_us(2000, [&] { vga_poll_changes(v); }));
	printf("  text grid 80x25:                   %8.2f us\n",
	       per_call_us(2000, [&] { vga_get_text(v, &txt); }));
	printf("  render text 720x400:               %8.2f us\n",
	       per_call_us(200, [&] { vga_render(v, &img); }));
	set_mode(kMode13);
	printf("  render mode 13h 320x200:           %8.2f us\n",
	       per_call_us(200, [&] { vga_render(v, &img); }));
	set_mode(kMode12);
	printf("  render mode 12h 640x480:           %8.2f us\n",
	       per_call_us(100, [&] { vga_render(v, &img); }));
	printf("  mode 12h byte writes (MMIO path):  %8.3f us\n",
	       per_call_us(200000, [&] { wb(0xa0000 + 100, 0x55); }));
	vbe(3, 32);
	vbe(1, 1920);
	vbe(2, 1080);
	vbe(4, 0x41);
	vga_poll_changes(v);
	printf("  idle change check, VBE 1920x1080x32: %6.1f us\n",
	       per_call_us(50, [&] { vga_poll_changes(v); }));
	printf("  render VBE 1920x1080x32:           %8.1f us\n",
	       per_call_us(20, [&] { vga_render(v, &img); }));
	vga_image_free(&img);
	vga_text_free(&txt);
}

} // namespace
