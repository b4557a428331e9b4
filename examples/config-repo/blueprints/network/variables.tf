# One variable per input of blueprint.yaml; Cloudsphere sets all of them.

variable "cidr" {
  type        = string
  description = "Address range of the network"
}

variable "region" {
  type        = string
  default     = "local-1"
  description = "Region to place the network in"
}

variable "subnet_count" {
  type    = number
  default = 2

  validation {
    condition     = var.subnet_count >= 1 && var.subnet_count <= 16
    error_message = "subnet_count must be between 1 and 16."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Labels attached to the network"
}
