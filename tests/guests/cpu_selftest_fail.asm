; A guest that must fail: it checks that the reporting frame of lib.inc
; reports failures (with the values), counts TODO checks apart, and ends
; with a non-zero status. tests/system/test_cpu_guests.cc expects exactly
; this output; the other cpu_* guests rely on the same frame.
%include "lib.inc"

main32:
	PRINT "# cpu_selftest_fail: the reporting frame itself (two checks fail on purpose)"
	mov eax, 5
	CHECK_EQ eax, 6, "five is six (fails on purpose)"
	cmp eax, 5
	CHECK_TODO ne, "a failing TODO check", "a reason"
	CHECK_EQ_TODO eax, 5, "a passing TODO check", "another reason"
	TRY .x
	ud2
	ENDTRY
.x:	CHECK_EXC 13, 0, "UD2 is #GP (fails on purpose: it is #UD)"
	FINISH

	GUEST_END
