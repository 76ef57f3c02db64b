// SPDX-License-Identifier: GPL-2.0

#include <linux/nodemask.h>

__rust_helper unsigned int rust_helper_num_online_nodes(void)
{
	return num_online_nodes();
}
