# Only built-in pieces: terraform_data and local-exec need no provider
# download, so "terraform init" works offline.

terraform {
  required_version = ">= 1.4"
}

locals {
  network_id = "net-${substr(sha256("${var.region}/${var.cidr}"), 0, 12)}"
}

resource "terraform_data" "network" {
  input = {
    id     = local.network_id
    region = var.region
    cidr   = var.cidr
    tags   = var.tags
  }

  provisioner "local-exec" {
    command = "echo \"creating network ${self.output.id} (${self.output.cidr}) in ${self.output.region}\""
  }

  provisioner "local-exec" {
    when    = destroy
    command = "echo \"deleting network ${self.output.id}\""
  }
}

resource "terraform_data" "subnet" {
  count = var.subnet_count

  # Created after the network and replaced when it is replaced (a local
  # value, not the network's output, so that changing only the tags does
  # not replace the subnets).
  depends_on       = [terraform_data.network]
  triggers_replace = local.network_id

  input = {
    id   = "subnet-${substr(sha256("${local.network_id}/${count.index}"), 0, 8)}"
    cidr = cidrsubnet(var.cidr, 8, count.index)
  }

  provisioner "local-exec" {
    command = "echo \"creating subnet ${self.output.id} (${self.output.cidr})\""
  }

  provisioner "local-exec" {
    when    = destroy
    command = "echo \"deleting subnet ${self.output.id}\""
  }
}
