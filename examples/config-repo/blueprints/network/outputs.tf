# One output per name in the blueprint's outputs list.

output "network_id" {
  value = terraform_data.network.output.id
}

output "subnet_id" {
  description = "The first subnet"
  value       = terraform_data.subnet[0].output.id
}

output "subnet_ids" {
  value = terraform_data.subnet[*].output.id
}

output "cidr" {
  value = terraform_data.network.output.cidr
}
