#include <stdio.h>
static int tap_n, tap_fail;
static void plan(int n){printf("1..%d\n",n);}
#define ok(c, ...) do{ tap_n++; if(c) printf("ok %d - ", tap_n); else {tap_fail++; printf("not ok %d - ", tap_n);} printf(__VA_ARGS__); printf("\n"); }while(0)
static int done_testing(void){return tap_fail?1:0;}
